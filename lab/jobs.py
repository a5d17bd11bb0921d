"""Lab runs as background jobs: the API stores a run (storage.policy_lab) and starts `python -m lab.jobs RUN_ID`
in a process of its own, which runs the replay (on all cores, as the CLI does) or the simulation and stores
the results. A job in its own process keeps the API's event loop and threads out of the fork, survives nothing
it should not (a crash marks the run failed) and shows its status to every API worker through the database.

A running job refreshes `updated_at` as it goes; a run that has not moved for STALE_AFTER is reported failed
(the process died with the machine or was killed).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import traceback
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from storage.types import utcnow

log = logging.getLogger("asesor.lab")
STALE_AFTER = timedelta(minutes=10)
REPO_ROOT = Path(__file__).resolve().parent.parent


def launch(run_id: str, *, database_url: str, model_dir: Path | None, data_dir: Path) -> subprocess.Popen[bytes]:
    """Start the job process of a run; its output goes to <data_dir>/lab/<run_id>.log."""
    logs = data_dir / "lab"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": database_url, "ASESOR_DATA_DIR": str(data_dir)}
    if model_dir is not None:
        env["ASESOR_MODEL_DIR"] = str(model_dir)
    with open(logs / f"{run_id}.log", "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.jobs", run_id],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in the API's process group: a Ctrl-C on the server does not kill it
        )
    threading.Thread(target=proc.wait, name=f"lab-{run_id[:8]}", daemon=True).start()  # reap it
    return proc


def effective_status(run: Any) -> str:
    """The stored status, or `failed` for a queued/running run that stopped moving."""
    if run.status in ("queued", "running") and utcnow() - run.updated_at > STALE_AFTER:
        return "failed"
    return run.status


def replay_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The few figures the dashboard shows of a replay."""
    return {
        "policy_version": report["policy"]["version"],
        "assessments": report["replayed"],
        "changed": report["changed"],
        "approval_rate": {
            "stored": report["stored"]["approval_rate"],
            "replayed": report["replayed_figures"]["approval_rate"],
        },
        "expected_loss": {
            "stored": report["stored"]["expected_loss"],
            "replayed": report["replayed_figures"]["expected_loss"],
        },
        "lgd": {"stored": report["stored"]["lgd"], "replayed": report["replayed_figures"]["lgd"]},
        "loss_inputs": report["loss_inputs"]["replayed"],
    }


def _run_replay(engine: Any, run: Any, database_url: str) -> None:
    from core.config import get_settings
    from lab.replay import ReplaySpec, run_replay
    from lab.report import changes_csv
    from storage.policy_lab import update_run

    params = run.params or {}
    spec = ReplaySpec(
        database_url=database_url,
        policy_toml=run.policy_toml.encode("utf-8"),
        policy_name=f"run-{run.id[:8]}.toml",
        model_dir=str(get_settings().resolved_model_dir),
        since=date.fromisoformat(params["since"]) if params.get("since") else None,
        until=date.fromisoformat(params["until"]) if params.get("until") else None,
    )
    state = {"total": 0, "done": 0, "reported": 0}

    def on_total(total: int) -> None:
        state["total"] = total
        update_run(engine, run.id, progress={"done": 0, "total": total})

    def progress(n: int) -> None:
        state["done"] += n
        if state["done"] - state["reported"] >= max(1, state["total"] // 50):  # ~50 heartbeats a run
            state["reported"] = state["done"]
            update_run(engine, run.id, progress={"done": state["done"], "total": state["total"]})

    outcome = run_replay(spec, on_total=on_total, progress=progress)
    update_run(
        engine,
        run.id,
        status="done",
        finished_at=utcnow(),
        progress={"done": state["done"], "total": state["total"]},
        report=outcome.report,
        summary=replay_summary(outcome.report),
        changes_csv=changes_csv(outcome.changes),
    )


def _run_simulate(engine: Any, run: Any) -> None:
    from engine.policy import parse_policy
    from lab.simulate import simulate_report
    from storage.policy_lab import update_run

    policy = parse_policy(run.policy_toml.encode("utf-8"), Path(f"run-{run.id[:8]}.toml"))
    state = {"reported": -1}

    def progress(done: int, total: int) -> None:  # the heartbeat that keeps the run from looking stale
        if done == total or done - state["reported"] >= max(1, total // 50):
            state["reported"] = done
            update_run(engine, run.id, progress={"done": done, "total": total})

    report = simulate_report(policy, progress=progress)
    update_run(engine, run.id, status="done", finished_at=utcnow(), report=report, summary=report.get("summary"))


def execute(run_id: str, database_url: str | None = None) -> int:
    """Run one stored job to its end; 0 when done, 1 when it failed (the error is stored on the run)."""
    from storage.db import default_url, make_engine, normalize_url
    from storage.policy_lab import get_run, update_run

    url = normalize_url(database_url or default_url())
    engine = make_engine(url)
    try:
        run = get_run(engine, run_id, with_results=True)
        if run is None:
            log.error("no policy run %s", run_id)
            return 1
        update_run(engine, run_id, status="running", started_at=utcnow())
        try:
            if run.kind == "replay":
                _run_replay(engine, run, url)
            else:
                _run_simulate(engine, run)
        except Exception as exc:
            traceback.print_exc()
            update_run(
                engine,
                run_id,
                status="failed",
                finished_at=utcnow(),
                error={"type": type(exc).__name__, "message": str(exc)[:2000]},
            )
            return 1
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    from core.config import get_settings
    from core.logging import configure_logging

    configure_logging(settings=get_settings())
    raise SystemExit(execute(sys.argv[1]))
