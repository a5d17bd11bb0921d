"""The figures of a replay, stored vs replayed, as plain counters that partitions add up (`merge`).

Both sides are counted over the same assessments (those the replay could re-assess), so every difference is
the policy's. Expected loss is over the pipeline (decisions that may still become a loan), as in analytics.
"""

from __future__ import annotations

from typing import Any

DECISIONS = ("aprobado", "revisar", "rechazado")
PIPELINE = frozenset({"aprobado", "revisar"})
SEGMENTS = ("income_band", "tenure", "payroll_bank")
CHANGE_COLUMNS = (
    "assessment_id",
    "user_key",
    "created_at",
    "stored_decision",
    "replayed_decision",
    "stored_rate",
    "replayed_rate",
    "stored_bank",
    "replayed_bank",
    "stored_pd",
    "replayed_pd",
    "stored_expected_loss",
    "replayed_expected_loss",
)


def _side() -> dict[str, Any]:
    return {
        "decisions": dict.fromkeys(DECISIONS, 0),
        "approved_rate_sum": 0.0,  # Σ rate of approved (mean approved rate)
        "pd_sum": 0.0,
        "expected_loss": 0.0,  # pipeline
        "exposure": 0.0,  # pipeline
        "lgd_exposure": 0.0,  # Σ lgd × exposure over the pipeline (exposure-weighted LGD)
        "by_bank": {},
        "by_segment": {s: {} for s in SEGMENTS},
    }


def _group() -> dict[str, float]:
    return {"assessments": 0, "aprobado": 0, "expected_loss": 0.0}


def new_tally() -> dict[str, Any]:
    return {
        "assessments": 0,  # read from the database
        "replayed": 0,
        "not_replayable": {},  # reason -> count
        "stored": _side(),
        "replay": _side(),
        "transitions": {d: dict.fromkeys(DECISIONS, 0) for d in DECISIONS},
        "changed": 0,
        "changed_by_segment": {s: {} for s in SEGMENTS},
        "stored_policies": {},  # policy version -> count
        "replay_models": {},  # PD model version the replay used -> count
        "first": None,
        "last": None,
    }


def count(
    side: dict[str, Any],
    segments: tuple[str | None, ...],
    decision: str,
    rate: float | None,
    pd: float,
    bank: str | None,
    el: float | None,
    lgd: float | None,
    exposure: float | None,
) -> None:
    """One assessment on one side."""
    side["decisions"][decision] = side["decisions"].get(decision, 0) + 1
    side["pd_sum"] += pd
    approved = decision == "aprobado"
    if approved and rate is not None:
        side["approved_rate_sum"] += rate
    in_pipe = decision in PIPELINE
    el_value = (el or 0.0) if in_pipe else 0.0
    if in_pipe:
        side["expected_loss"] += el_value
        side["exposure"] += exposure or 0.0
        side["lgd_exposure"] += (lgd or 0.0) * (exposure or 0.0)
    key = bank or "—"
    g = side["by_bank"].get(key)
    if g is None:
        g = side["by_bank"][key] = _group()
    g["assessments"] += 1
    g["aprobado"] += approved
    g["expected_loss"] += el_value
    for name, code in zip(SEGMENTS, segments, strict=True):
        seg = side["by_segment"][name]
        g = seg.get(code or "—")
        if g is None:
            g = seg[code or "—"] = _group()
        g["assessments"] += 1
        g["aprobado"] += approved
        g["expected_loss"] += el_value


def _add(into: dict[str, Any], other: dict[str, Any]) -> None:
    for k, v in other.items():
        if isinstance(v, dict):
            _add(into.setdefault(k, {}), v)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            into[k] = into.get(k, 0) + v
        else:
            into.setdefault(k, v)


def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Add partition `other` to `into` (in place); first/last are the period's earliest and latest."""
    first, last = into.pop("first", None), into.pop("last", None)
    o_first, o_last = other.get("first"), other.get("last")
    _add(into, {k: v for k, v in other.items() if k not in ("first", "last")})
    into["first"] = min((x for x in (first, o_first) if x), default=None)
    into["last"] = max((x for x in (last, o_last) if x), default=None)
    return into


# ------------------------------------------------------------------------------------------ summary
def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def _side_summary(side: dict[str, Any], n: int) -> dict[str, Any]:
    approved = side["decisions"].get("aprobado", 0)
    return {
        "approval_rate": _ratio(approved, n),
        "decisions": dict(side["decisions"]),
        "mean_pd": _ratio(side["pd_sum"], n),
        "mean_approved_rate": _ratio(side["approved_rate_sum"], approved),
        "expected_loss": round(side["expected_loss"], 2),
        "exposure": round(side["exposure"], 2),
        "lgd": _ratio(side["lgd_exposure"], side["exposure"]),
    }


def _groups(stored: dict[str, Any], replay: dict[str, Any], label: str, order: list[str]) -> list[dict[str, Any]]:
    keys = [k for k in order if k in stored or k in replay]
    keys += sorted(k for k in {*stored, *replay} if k not in keys)
    out = []
    for k in keys:
        row: dict[str, Any] = {label: k}
        for name, side in (("stored", stored), ("replayed", replay)):
            g = side.get(k) or _group()
            row[name] = {
                "assessments": int(g["assessments"]),
                "approval_rate": _ratio(g["aprobado"], g["assessments"]),
                "expected_loss": round(g["expected_loss"], 2),
            }
        out.append(row)
    return out


def summarize(tally: dict[str, Any], bank_order: list[str], segment_order: dict[str, list[str]]) -> dict[str, Any]:
    """The side-by-side figures of a finished tally (JSON-ready)."""
    n = tally["replayed"]
    stored, replay = _side_summary(tally["stored"], n), _side_summary(tally["replay"], n)

    def change(key: str) -> float | None:
        a, b = stored[key], replay[key]
        return None if a is None or b is None else round(b - a, 6)

    by_segment = {}
    for name in SEGMENTS:
        rows = _groups(
            tally["stored"]["by_segment"][name], tally["replay"]["by_segment"][name], "segment", segment_order[name]
        )
        for r in rows:
            r["changed"] = int(tally["changed_by_segment"][name].get(r["segment"], 0))
        by_segment[name] = rows
    return {
        "assessments": tally["assessments"],
        "replayed": n,
        "not_replayable": dict(tally["not_replayable"]),
        "period": {"first": tally["first"], "last": tally["last"]},
        "stored_policy_versions": dict(tally["stored_policies"]),
        "stored": stored,
        "replayed_figures": replay,
        "change": {k: change(k) for k in ("approval_rate", "mean_pd", "mean_approved_rate", "expected_loss")},
        "transitions": tally["transitions"],
        "changed": tally["changed"],
        "by_bank": _groups(tally["stored"]["by_bank"], tally["replay"]["by_bank"], "bank", bank_order),
        "by_segment": by_segment,
    }
