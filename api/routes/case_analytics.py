"""The advisors' work for their managers (role analyst): `GET /v1/analytics/cases`, JSON or CSV like the other
analytics routes, and the same numbers as the dashboard's «Casos con asesores» tile."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.deps import AnalystDep, SettingsDep
from api.routes.analytics import QueryDep, _responses, respond
from api.services.advisors_page import reason_label
from api.services.handoff import policy_for
from dialogs import texts
from storage.case_analytics import case_stats

router = APIRouter(prefix="/v1/analytics", tags=["analítica"])


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TimeStats(_Open):
    cases: int
    median_minutes: float | None
    p90_minutes: float | None


class FirstAnswer(TimeStats):
    within_target: int
    within_target_rate: float | None


class CaseStats(_Open):
    cases: int
    by_status: dict[str, int]
    target_minutes: int
    first_answer: FirstAnswer
    resolution: TimeStats
    reasons: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]


def cases_data(q: Any, settings: Any) -> dict[str, Any]:
    """The period's cases, with Spanish labels (the dashboard's tile reads the same)."""
    target = policy_for(settings).escalation.first_answer_minutes
    data = case_stats(q.analytics.engine, q.filters.start, q.filters.end, target)
    for r in data["reasons"]:
        r["label"] = reason_label(r["reason"])
    for o in data["outcomes"]:
        o["label"] = texts.OUTCOME_LABELS.get(o["outcome"], "sin resultado")
    return data


def _table(data: dict[str, Any], part: str) -> list[dict[str, Any]]:
    if part == "reasons":
        return data["reasons"]
    if part == "outcomes":
        return data["outcomes"]
    return [
        {"measure": "first_answer", **data["first_answer"]},
        {"measure": "resolution", **data["resolution"]},
    ]


@router.get(
    "/cases",
    summary="Casos con asesores: motivos, tiempo a la primera respuesta y a la resolución, resultados",
    description="Casos abiertos en el periodo. Minutos desde que se abre el caso (mediana y p90). "
    "CSV: `table=times|reasons|outcomes`.",
    responses=_responses(CaseStats),
)
def cases(
    _u: AnalystDep,
    q: QueryDep,
    settings: SettingsDep,
    table: Literal["times", "reasons", "outcomes"] = Query(default="times", description="La tabla del CSV"),
) -> Response:
    data = cases_data(q, settings)
    return respond(q, "cases", data, lambda d: _table(d, table))
