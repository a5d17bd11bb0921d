"""Data of the dashboard's policy-lab tile: the last finished replay, and the expected-loss assumptions in use."""

from __future__ import annotations

from typing import Any

from api.services.handoff import policy_for
from core.config import Settings
from storage.policy_lab import latest_runs
from storage.repositories import Storage


def last_replay_tile(storage: Storage, settings: Settings) -> dict[str, Any]:
    """{last: the last done replay's figures or None, assumptions: the current policy's LGD/EAD per product}."""
    done = latest_runs(storage.engine, "replay", status="done", limit=1)
    last = None
    if done and done[0].summary:
        run, s = done[0], done[0].summary
        last = {
            "id": run.id,
            "finished_at": run.finished_at.strftime("%Y-%m-%d %H:%M UTC") if run.finished_at else "",
            "policy_version": s["policy_version"],
            "assessments": s["assessments"],
            "changed": s["changed"],
            "approval_rate": s["approval_rate"],
            "expected_loss": s["expected_loss"],
            "lgd": s["lgd"],
            "report_url": f"/v1/policy/replays/{run.id}/report.html",
            "csv_url": f"/v1/policy/replays/{run.id}/changes.csv",
        }
    policy = policy_for(settings)
    assumptions = [
        {"code": code, "name": p.name, "lgd": p.lgd, "ead_factor": p.ead_factor, "source": p.source}
        for code, p in policy.products.items()
    ]
    return {"last": last, "assumptions": assumptions, "policy_version": policy.version}
