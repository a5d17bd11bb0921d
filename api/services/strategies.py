"""Segment strategies: the ranked segments of a period with the action the policy's `[strategies]` rules
suggest (the dashboard tile and `GET /v1/analytics/strategies`). Figures from storage.analytics, rules from
engine.strategies; this module only joins them and adds the Spanish labels."""

from __future__ import annotations

from typing import Any

from engine.policy import Policy
from engine.strategies import rank
from storage.analytics import Analytics, Filters

ACTION_LABELS = {
    "promote": "Promover",
    "larger_down_payment": "Pedir más enganche",
    "route_to_advisor": "Canalizar a un asesor",
    None: "—",
}


def strategies(analytics: Analytics, policy: Policy, f: Filters) -> dict[str, Any]:
    st = policy.strategies
    segments = rank(analytics.strategy_segments(f, st.dimensions), policy)
    return {
        "dimensions": list(st.dimensions),
        "min_applicants": st.min_applicants,
        "rank_by": st.rank_by,
        "descending": st.descending,
        "rules": len(st.rules),
        "segments": segments,
    }
