"""The API's bridge to `asesor policy simulate` (the verdict engineer's plain function, #12 item 5).

Until that function is on main, `available()` is False and the API answers 503 for simulations; once it is
there, `simulate_report(policy)` calls it and returns its JSON report unchanged (plus a small `summary`).
"""

from __future__ import annotations

import importlib
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


def simulate_report(policy: Policy) -> dict[str, Any]:
    fn = _function()
    if fn is None:
        raise RuntimeError("asesor policy simulate is not available in this build")
    result = fn(policy)
    report = result.model_dump(mode="json") if hasattr(result, "model_dump") else dict(result)
    report.setdefault("kind", "simulate")
    report.setdefault("summary", {"policy_version": policy.version})
    return report
