"""Rules the policy's own numbers put out of reach, whatever the applicant (`asesor policy check`, simulate).

The risk rules read the monotone envelope (or the seed's risk), whose range over every income, stability and
score is known once the policy is loaded: with the seed's membership functions it never exceeds ≈ 72.2, so
R3 (risk > 0.8) cannot fire. An analyst who lowers `expert.reject_risk_above` below that makes it reachable.
"""

from __future__ import annotations

from pydantic import BaseModel

from engine.fuzzy import fuzzy_model
from engine.fuzzy.envelope import monotone_risk
from engine.policy import Policy


class Unreachable(BaseModel):
    rule: str
    reason: str


def unreachable_rules(policy: Policy) -> list[Unreachable]:
    """The rules no applicant can reach under this policy (no PD model needed: the risk's range is the fuzzy
    system's, over every income and score, at the stabilities the tenure answers map to)."""
    x, d = policy.expert, policy.expert.risk_divisor
    envelope = monotone_risk(policy, fuzzy_model(policy))
    # the envelope's grid when the rules read it; the seed's own values on that grid when they read those
    grid = envelope.grid if policy.fuzzy.envelope.monotone else envelope.seed_grid
    lo, hi = float(grid.min()), float(grid.max())
    s = policy.score_scaling
    out: list[Unreachable] = []

    def no(rule: str, reason: str) -> None:
        out.append(Unreachable(rule=rule, reason=reason))

    if hi <= x.reject_risk_above * d:
        no("R3", f"the risk the rules read never exceeds {hi:.1f} (threshold {x.reject_risk_above * d:g})")
    if lo > x.approve_risk_at_most * d:
        no("R9", f"the risk the rules read is never below {lo:.1f} (threshold {x.approve_risk_at_most * d:g})")
    if lo >= x.discount_risk_below * d:
        no("R13", f"the risk the rules read is never below {lo:.1f} (threshold {x.discount_risk_below * d:g})")
    if hi <= x.surcharge_risk_above * d:
        no("R14", f"the risk the rules read never exceeds {hi:.1f} (threshold {x.surcharge_risk_above * d:g})")
    if s.min_score >= x.reject_score_below:
        no("R5", f"scores start at {s.min_score} (threshold {x.reject_score_below:g})")
    if s.max_score < x.approve_score_at_least:
        no("R10", f"scores end at {s.max_score} (threshold {x.approve_score_at_least:g})")
    if not x.pd_cutoffs:
        no("P1", "expert.pd_cutoffs is false")
        no("P2", "expert.pd_cutoffs is false")
    return out
