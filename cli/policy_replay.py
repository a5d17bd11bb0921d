"""`asesor policy replay`: the stored assessments re-assessed under another policy, side by side (lab.replay).

Errors follow cli/errors.py: an invalid policy or date exits 2 (naming the key or the option), a database or
a Dask scheduler that cannot be reached exits 4. Nothing stored is changed.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.errors import ExitCode, fail, policy_failure
from core import copy_es as copy
from engine.policy import PolicyError


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail("invalid_input", copy.ERR_DATE.format(option=option), field=option)


def replay_command(
    policy: Annotated[Path, typer.Option("--policy", help=copy.POLICY_REPLAY_POLICY)],
    since: Annotated[str | None, typer.Option(help=copy.POLICY_REPLAY_SINCE)] = None,
    until: Annotated[str | None, typer.Option(help=copy.POLICY_REPLAY_UNTIL)] = None,
    as_json: Annotated[bool, typer.Option("--json", help=copy.POLICY_REPLAY_JSON)] = False,
    csv_path: Annotated[Path | None, typer.Option("--csv", help=copy.POLICY_REPLAY_CSV)] = None,
    html_path: Annotated[Path | None, typer.Option("--html", help=copy.POLICY_REPLAY_HTML)] = None,
    scheduler: Annotated[str | None, typer.Option(help=copy.POLICY_REPLAY_SCHEDULER)] = None,
    workers: Annotated[int, typer.Option(help=copy.POLICY_REPLAY_WORKERS)] = 0,
    url: Annotated[str | None, typer.Option("--url", help=copy.DB_URL)] = None,
    model_dir: Annotated[Path | None, typer.Option(help=copy.MODEL_DIR)] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help=copy.NO_PROGRESS)] = False,
) -> None:
    """Re-evalúa las evaluaciones guardadas con otra política, sin tocarlas, y compara lado a lado."""
    day_from, day_to = _day(since, "--since"), _day(until, "--until")
    if day_from and day_to and day_from > day_to:
        fail("invalid_input", copy.ERR_SINCE_AFTER_UNTIL, field="--since")
    if scheduler is not None and not scheduler.startswith("tcp://"):
        fail("invalid_input", copy.ERR_SCHEDULER_URL, field="--scheduler")
    try:
        raw = policy.read_bytes()
    except OSError as exc:
        fail("invalid_policy", copy.ERR_CANNOT_READ.format(path=policy, reason=copy.read_reason(exc)), field="--policy")

    from lab.replay import ReplaySpec, run_replay
    from lab.report import changes_csv, render_html, text_summary
    from storage.db import default_url, normalize_url

    spec = ReplaySpec(
        database_url=normalize_url(url or default_url()),
        policy_toml=raw,
        policy_name=str(policy),
        model_dir=str(model_dir) if model_dir else None,
        since=day_from,
        until=day_to,
    )
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        if not no_progress:
            from tqdm import tqdm

            # disable=None: a bar only on a terminal, never `\r`-joined lines in a log file
            bar = tqdm(total=total, unit="eval", file=sys.stderr, desc="replay", disable=None)

    try:
        outcome = run_replay(
            spec,
            workers=workers or None,
            scheduler=scheduler,
            on_total=on_total,
            progress=lambda n: bar.update(n) if bar is not None else None,
        )
    except PolicyError as exc:
        policy_failure(exc, "--policy")
    except OSError as exc:  # a Dask scheduler that cannot be reached (a database failure is classified by the root)
        fail(
            "scheduler_unavailable",
            copy.ERR_SCHEDULER_UNREACHABLE.format(scheduler=scheduler, reason=exc),
            field="--scheduler",
            exit_code=ExitCode.UNAVAILABLE,
        )
    finally:
        if bar is not None:
            bar.close()

    if csv_path is not None:
        csv_path.write_text(changes_csv(outcome.changes), encoding="utf-8")
    if html_path is not None:
        href = csv_path.name if csv_path is not None and csv_path.parent == html_path.parent else None
        html_path.write_text(render_html(outcome.report, outcome.changes, csv_href=href), encoding="utf-8")
    if as_json:
        sys.stdout.write(json.dumps(outcome.report, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(text_summary(outcome.report))
