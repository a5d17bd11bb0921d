"""The API's bridge to `asesor policy simulate` (the verdict engineer's plain function, #12 item 5).

`simulate_report(policy, progress)` calls it and returns its JSON report unchanged, plus a small `summary` for
the run's status; in a build without it, `available()` is False and the API answers 503 for simulations.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from engine.policy import Policy

# where the simulate function is expected: (module, function)
CANDIDATES = (("engine.simulate", "simulate"), ("engine.simulation", "simulate"))


def _function() -> Any:
    for module, name in CANDIDATES:
        try:
            fn = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if callable(fn):
            return fn
    return None


def available() -> bool:
    return _function() is not None


def simulate_report(policy: Policy, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The simulation's JSON report, with a `summary` of the figures a status shows (ok, broken invariants)."""
    fn = _function()
    if fn is None:
        raise RuntimeError("asesor policy simulate is not available in this build")
    from core.config import get_settings

    # the engine is handed its model directory; `progress` is the API job's heartbeat
    result = fn(policy, model_dir=get_settings().resolved_model_dir, progress=progress)
    report = result.model_dump(mode="json") if hasattr(result, "model_dump") else dict(result)
    report.setdefault("kind", "simulate")
    invariants = report.get("invariants") or []
    report.setdefault(
        "summary",
        {
            "policy_version": policy.version,
            "ok": report.get("ok"),
            "points": (report.get("space") or {}).get("points"),
            "decisions": {k: v.get("share") for k, v in (report.get("decisions") or {}).items()},
            "invariants_broken": [i["name"] for i in invariants if not i.get("held", True)],
            "dead_rules": report.get("dead_rules"),
        },
    )
    return report
