"""`asesor policy replay` (#12 item 5): the stored assessments re-assessed under another policy with the real
engine, without touching them; figures side by side; the changed verdicts as CSV; JSON and HTML. Both databases."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.policy import load_policy
from lab.replay import ReplaySpec, run_replay
from storage.analytics import Analytics, Filters
from storage.repositories import Storage
from tests.lab.conftest import BOOK_SIZE, store_book, table_digest
from tests.models import get_assessor

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ("aprobado", "revisar")


def _expected(rows: list[dict[str, Any]], policy_path: Path) -> dict[str, Any]:
    """The replay recomputed by hand: every stored request through the engine under the new policy."""
    assessor = get_assessor(load_policy(policy_path))
    new = {r["id"]: assessor.assess(r["request"], r["created_at"].date()) for r in rows}
    approved = sum(n.expert.decision == "aprobado" for n in new.values())
    return {
        "approval_rate": approved / len(rows),
        "expected_loss": sum(n.expected_loss for n in new.values() if n.expert.decision in PIPELINE),
        "changed": {
            i for i, n in new.items() if n.expert.decision != next(r for r in rows if r["id"] == i)["decision"]
        },
        "by_bank": {
            b: sum(n.bank_fit.recommended == b for n in new.values())
            for b in {n.bank_fit.recommended for n in new.values()}
        },
    }


def test_replay_reports_stored_and_replayed_side_by_side_and_touches_nothing(
    storage: Storage, db_url: str, stricter_policy: Path
) -> None:
    rows = store_book(storage)
    before = table_digest(storage)
    outcome = run_replay(
        ReplaySpec(db_url, stricter_policy.read_bytes(), str(stricter_policy)), workers=2, rows_per_partition=15
    )
    report = outcome.report
    assert table_digest(storage) == before  # nothing stored changed

    assert report["assessments"] == report["replayed"] == BOOK_SIZE and report["not_replayable"] == {}
    assert report["run"]["partitions"] == 6  # 80 rows in id ranges of 15
    assert report["policy"]["version"] == "2026.12-estricta"

    # the stored side is what analytics reports for the same assessments
    an = Analytics(storage.engine)
    assert report["stored"]["approval_rate"] == pytest.approx(an.decisions(Filters())["approval_rate"], abs=1e-6)
    assert report["stored"]["expected_loss"] == pytest.approx(an.expected_loss()["expected_loss"], abs=0.05)
    assert report["stored"]["lgd"] == pytest.approx(0.45)

    # the replayed side is the real engine under the new policy, row by row
    want = _expected(rows, stricter_policy)
    assert report["replayed_figures"]["approval_rate"] == pytest.approx(want["approval_rate"], abs=1e-6)
    assert report["replayed_figures"]["expected_loss"] == pytest.approx(want["expected_loss"], abs=0.05)
    assert report["replayed_figures"]["lgd"] == pytest.approx(0.90)
    assert {c["assessment_id"] for c in outcome.changes} == want["changed"]
    assert report["changed"] == len(want["changed"]) > 0  # R7 at 36 months turns long-term approvals down
    assert all(c["replayed_decision"] == "rechazado" for c in outcome.changes)
    assert report["change"]["approval_rate"] <= 0  # stricter: nobody newly approved
    assert report["replayed_figures"]["decisions"]["rechazado"] == report["stored"]["decisions"]["rechazado"] + len(
        want["changed"]
    )
    assert {b["bank"]: b["replayed"]["assessments"] for b in report["by_bank"] if b["replayed"]["assessments"]} == (
        want["by_bank"]
    )
    # segments add up on both sides, and name the changed verdicts per segment
    for rows_ in report["by_segment"].values():
        assert sum(r["stored"]["assessments"] for r in rows_) == BOOK_SIZE
        assert sum(r["changed"] for r in rows_) == report["changed"]
    # the transition matrix holds every assessment once
    assert sum(sum(v.values()) for v in report["transitions"].values()) == BOOK_SIZE
    assert report["loss_inputs"]["replayed"]["auto"]["source"].startswith("Supuesto")


def test_replay_cli_writes_json_csv_and_html_for_a_period(
    storage: Storage, db_url: str, stricter_policy: Path, tmp_path: Path
) -> None:
    rows = store_book(storage)
    since, until = date(2026, 11, 4), date(2026, 11, 10)
    in_period = [r for r in rows if since <= r["created_at"].date() <= until]
    csv_path, html_path = tmp_path / "cambios.csv", tmp_path / "replay.html"
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "policy", "replay", "--policy", str(stricter_policy),
         "--since", since.isoformat(), "--until", until.isoformat(), "--json", "--csv", str(csv_path),
         "--html", str(html_path), "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["assessments"] == len(in_period) and report["since"] == "2026-11-04"
    assert since.isoformat() <= report["period"]["first"] <= report["period"]["last"] < "2026-11-11"

    changed = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert len(changed) == report["changed"]
    assert changed and set(changed[0]) == {
        "assessment_id", "user_key", "created_at", "stored_decision", "replayed_decision", "stored_rate",
        "replayed_rate", "stored_bank", "replayed_bank", "stored_pd", "replayed_pd", "stored_expected_loss",
        "replayed_expected_loss",
    }  # fmt: skip
    by_id = {r["id"]: r for r in in_period}
    for c in changed:
        assert by_id[c["assessment_id"]]["user_key"] == c["user_key"]  # pseudonymous key, no personal data
        assert c["stored_decision"] != c["replayed_decision"]

    page = html_path.read_text(encoding="utf-8")
    assert "2026.12-estricta" in page and "Tasa de aprobación" in page and "cambios.csv" in page
    assert changed[0]["assessment_id"] in page
    assert "90.0 %" in page and "Supuesto, no medido" in page  # the new LGD, shown with its source


def test_replay_cli_draws_no_progress_bar_off_a_terminal(storage: Storage, db_url: str, tmp_path: Path) -> None:
    """Without --no-progress, stderr a pipe (a log file, cron): no tqdm bar, whose `\r`-joined lines #17 found in
    log files; the option's help says so ("fuera de una terminal nunca la hay")."""
    store_book(storage, n=5)
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "policy", "replay", "--policy", str(ROOT / "engine/policy/default.toml"),
         "--json"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url}, timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["assessments"] == 5
    assert "\r" not in proc.stderr and "replay:" not in proc.stderr, proc.stderr


def test_replay_counts_what_it_cannot_reassess(storage: Storage, db_url: str, tmp_path: Path) -> None:
    from tests.samples import policy_variant

    rows = store_book(storage, n=20)
    with storage.session() as s:
        from storage.models import Assessment

        s.get(Assessment, rows[0]["id"]).request = None  # an assessment stored without its request
    # a policy whose price limit excludes part of the book
    tight = policy_variant(tmp_path / "tight.toml", {"vehicle_price_max = 5000000": "vehicle_price_max = 600000"})
    outcome = run_replay(ReplaySpec(db_url, tight.read_bytes(), str(tight)), workers=1)
    over = sum(r["request"]["loan"]["vehicle_price"] > 600_000 for r in rows[1:])
    assert outcome.report["not_replayable"] == {
        "no_stored_request": 1,
        **({"invalid_under_policy:loan.vehicle_price": over} if over else {}),
    }
    assert outcome.report["replayed"] == 20 - 1 - over


def test_replay_cli_errors_are_json_and_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "engine/policy/default.toml").read_text().replace("lgd = 0.45", "lgd = 2"))
    url = f"sqlite:///{tmp_path / 'none.sqlite3'}"
    for args, key in (
        (["--policy", str(bad)], "products.auto.lgd"),
        (["--policy", str(bad), "--since", "ayer"], "--since"),
        (["--policy", str(tmp_path / "missing.toml")], "--policy"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "policy", "replay", "--url", url, *args],
            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        err = json.loads(proc.stderr.strip().splitlines()[-1])
        assert key in json.dumps(err["error"]), err
        assert proc.stdout == ""
