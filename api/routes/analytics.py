"""Analytics (role analyst; admins too): aggregates only, never personal data, as JSON or CSV.

Every report takes the same period (`desde`, `hasta`: dates, UTC, both inclusive) and filters (recommended
bank, decision, channel, income band, tenure, payroll bank); values are checked against the policy's codes.
`?format=csv` (or `Accept: text/csv`) returns the report's table as CSV. The numbers come from
`storage.analytics.Analytics`; this module only validates, shapes and serialises.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from api.deps import AnalystDep, SettingsDep, StorageDep
from api.errors import ApiError, FieldError, problem_responses
from api.services.handoff import policy_for
from core.text import Text
from storage.analytics import Analytics, DelinquencyGroup, Filters, Segment

router = APIRouter(prefix="/v1/analytics", tags=["analítica"])

Format = Literal["json", "csv"]
DECISIONS = ("aprobado", "rechazado", "revisar")
MAX_PERIOD_DAYS = 3660
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)  # far from date.min/max: no overflow at the edges


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunnelStep(_Open):
    event: str
    step: str | None
    users: int
    conversion_from_previous: float | None
    conversion_from_start: float | None
    drop_off: int | None


class FunnelPeriodRow(_Open):
    period: str
    event: str
    step: str | None
    users: int


class TimeToComplete(_Open):
    completed: int
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None


class BankFunnelRow(_Open):
    bank: str | None
    assessments: int
    applicants: int
    handoff_opened: int
    financing_requested: int
    handoff_rate: float | None
    request_rate: float | None


class DecisionPeriod(_Open):
    period: str
    assessments: int
    approval_rate: float | None


class Decisions(_Open):
    total: int
    by_decision: dict[str, int]
    approval_rate: float | None
    series: list[DecisionPeriod]


class Distribution(_Open):
    count: int
    mean: float | None
    histogram: list[dict[str, float | int]]


class BankLoss(_Open):
    bank: str | None
    assessments: int
    expected_loss: float
    exposure: float


class LossAssumption(_Open):
    name: str
    lgd: float
    ead_factor: float
    source: str


class ExpectedLoss(_Open):
    lgd: float | None  # exposure-weighted LGD the assessments were made with (stored per assessment)
    ead_factor: float | None
    assumptions: dict[str, LossAssumption]  # the current policy's, per product, with their source
    decisions: list[str]
    assessments: int
    exposure: float
    expected_loss: float
    by_decision: dict[str, dict[str, float | int]]
    by_bank: list[BankLoss]


class SegmentRow(_Open):
    segment: str | None
    assessments: int
    approval_rate: float | None
    mean_pd: float | None
    mean_score: float | None
    pipeline_expected_loss: float


class StepTimeRow(_Open):
    event: str
    step: str | None
    users: int
    drop_off: int | None
    drop_off_rate: float | None
    timed: int
    median_seconds: float | None
    p90_seconds: float | None


class DelinquencyRow(_Open):
    segment: str | None
    loans: int
    defaults: int
    default_rate: float | None
    ci_low: float | None
    ci_high: float | None
    with_prediction: int
    predicted_pd: float | None
    default_rate_with_prediction: float | None
    expected_defaults: float
    defaults_with_prediction: int
    actual_to_expected: float | None


class Delinquency(_Open):
    by: str
    rows: list[DelinquencyRow]
    total: DelinquencyRow


class PsiRow(_Open):
    variable: str
    label_es: str
    psi: float | None
    band: Literal["stable", "moderate", "significant"] | None
    label: str | None
    applicants: int


class PopulationPsi(_Open):
    model_version: str | None
    status: Literal["ok", "no_applicants", "no_reference"]
    bands: dict[str, float]
    assessments: int
    without_features: int
    rows: list[PsiRow]
    worst: Literal["stable", "moderate", "significant"] | None
    shifted: list[str]


class Suggestion(_Open):
    action: Literal["promote", "larger_down_payment", "route_to_advisor"] | None
    label: str
    rule: int | None


class StrategySegment(_Open):
    rank: int
    applicants: int
    approval_rate: float | None
    review_rate: float | None
    mean_pd: float | None
    expected_loss_per_applicant: float | None
    top_bank: str | None
    top_bank_share: float | None
    suggestion: Suggestion


class Strategies(_Open):
    dimensions: list[str]
    min_applicants: int
    rank_by: str
    descending: bool
    rules: int
    segments: list[StrategySegment]


class DefaultRateRow(_Open):
    segment: str | int | bool | None
    clients: int
    defaults: int
    default_rate: float | None


@dataclass(frozen=True)
class Query_:
    analytics: Analytics
    filters: Filters
    start: date
    end: date
    format: Format


def _check_code(field: str, value: str | None, allowed: Any) -> FieldError | None:
    if value is None or value in allowed:
        return None
    return FieldError(field=field, message=f"Valor desconocido; usa uno de: {', '.join(allowed)}.", type="enum")


def analytics_query(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    desde: date | None = Query(default=None, description="Primer día (UTC), por defecto hace 30 días"),
    hasta: date | None = Query(default=None, description="Último día incluido (UTC), por defecto hoy"),
    bank: Annotated[Annotated[str, Text(32)] | None, Query(description="Banco recomendado")] = None,
    decision: Annotated[Annotated[str, Text(16)] | None, Query()] = None,
    channel: Annotated[Annotated[str, Text(16)] | None, Query(description="bot, api o batch")] = None,
    income_band: Annotated[Annotated[str, Text(32)] | None, Query()] = None,
    tenure: Annotated[Annotated[str, Text(32)] | None, Query()] = None,
    payroll_bank: Annotated[Annotated[str, Text(32)] | None, Query()] = None,
    format: Format | None = Query(default=None, description="json (por defecto) o csv"),
) -> Query_:
    policy = policy_for(settings)
    for name, value in (("desde", desde), ("hasta", hasta)):
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            message = f"Usa una fecha entre {FIRST_DAY.isoformat()} y {LAST_DAY.isoformat()}."
            raise ApiError(
                422, f"Revisa el parámetro {name}.", errors=[FieldError(field=name, message=message, type="range")]
            )
    end = hasta or datetime.now(UTC).date()
    start = desde or end - timedelta(days=29)
    errors = [
        e
        for e in (
            _check_code("bank", bank, policy.banks),
            _check_code("decision", decision, DECISIONS),
            _check_code("income_band", income_band, policy.answers["ingreso_mensual"]),
            _check_code("tenure", tenure, policy.answers["trabajo_tiempo"]),
            _check_code("payroll_bank", payroll_bank, policy.answers["banco_nomina"]),
        )
        if e is not None
    ]
    if start > end:
        errors.append(FieldError(field="desde", message="`desde` no puede ser posterior a `hasta`.", type="range"))
    elif (end - start).days > MAX_PERIOD_DAYS:
        errors.append(FieldError(field="desde", message="El periodo máximo es de 10 años.", type="range"))
    if errors:
        fields = ", ".join(e.field for e in errors)
        raise ApiError(422, f"Revisa estos parámetros: {fields}.", errors=errors)
    if format is None:
        format = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
    filters = Filters(
        start=datetime.combine(start, time.min, UTC),
        end=datetime.combine(end + timedelta(days=1), time.min, UTC),
        bank=bank,
        decision=decision,
        channel=channel,
        income_band=income_band,
        tenure=tenure,
        payroll_bank=payroll_bank,
    )
    return Query_(Analytics(storage.engine, policy), filters, start, end, format)


QueryDep = Annotated[Query_, Depends(analytics_query)]


def _csv_cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def to_csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns or ["(vacío)"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return buf.getvalue()


def respond(q: Query_, name: str, data: Any, table: Callable[[Any], list[dict[str, Any]]] | None = None) -> Response:
    if q.format == "csv":
        rows = table(data) if table else data
        filename = f"asesor-{name}-{q.start.isoformat()}-{q.end.isoformat()}.csv"
        return Response(
            to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return JSONResponse(data)


def _responses(model: Any) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": model,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "JSON, o CSV con `format=csv`",
        },
        **problem_responses(401, 403, 422),
    }


@router.get("/funnel", summary="Embudo: solicitantes por paso y abandono", responses=_responses(list[FunnelStep]))
def funnel(_u: AnalystDep, q: QueryDep) -> Response:
    return respond(q, "embudo", q.analytics.funnel(q.filters))


@router.get("/funnel/periods", summary="Embudo por día o semana", responses=_responses(list[FunnelPeriodRow]))
def funnel_periods(_u: AnalystDep, q: QueryDep, unit: Literal["day", "week"] = "day") -> Response:
    return respond(q, f"embudo-{unit}", q.analytics.funnel_by_period(q.filters, unit=unit))


@router.get(
    "/funnel/time-to-complete",
    summary="Tiempo del inicio al perfilamiento completo",
    responses=_responses(TimeToComplete),
)
def time_to_complete(_u: AnalystDep, q: QueryDep) -> Response:
    return respond(q, "tiempo", q.analytics.time_to_complete(q.filters), lambda d: [d])


@router.get(
    "/funnel/steps",
    summary="Tiempo por pregunta: mediana y p90 de segundos por paso, y abandono",
    responses=_responses(list[StepTimeRow]),
)
def funnel_steps(_u: AnalystDep, q: QueryDep) -> Response:
    return respond(q, "tiempo-por-paso", q.analytics.step_times(q.filters))


@router.get(
    "/banks", summary="Por banco recomendado: solicitudes y conversión", responses=_responses(list[BankFunnelRow])
)
def banks(_u: AnalystDep, q: QueryDep) -> Response:
    return respond(q, "bancos", q.analytics.funnel_by_bank(q.filters))


@router.get("/decisions", summary="Decisiones y tasa de aprobación", responses=_responses(Decisions))
def decisions(_u: AnalystDep, q: QueryDep, unit: Literal["day", "week"] = "day") -> Response:
    data = q.analytics.decisions(q.filters, unit=unit)
    return respond(q, "decisiones", data, lambda d: d["series"])


@router.get("/distributions/pd", summary="Histograma de la PD", responses=_responses(Distribution))
def pd_distribution(_u: AnalystDep, q: QueryDep, bins: int = Query(default=20, ge=1, le=200)) -> Response:
    return respond(q, "pd", q.analytics.pd_distribution(q.filters, bins=bins), lambda d: d["histogram"])


@router.get("/distributions/score", summary="Histograma del puntaje", responses=_responses(Distribution))
def score_distribution(_u: AnalystDep, q: QueryDep, width: int = Query(default=50, ge=10, le=500)) -> Response:
    return respond(q, "puntaje", q.analytics.score_distribution(q.filters, width=width), lambda d: d["histogram"])


@router.get(
    "/expected-loss", summary="Pérdida esperada (Σ PD·LGD·EAD) del pipeline", responses=_responses(ExpectedLoss)
)
def expected_loss(_u: AnalystDep, q: QueryDep) -> Response:
    return respond(q, "perdida-esperada", q.analytics.expected_loss(q.filters), lambda d: d["by_bank"])


@router.get("/segments", summary="Segmentos: aprobación, PD, puntaje y pérdida", responses=_responses(list[SegmentRow]))
def segments(
    _u: AnalystDep,
    q: QueryDep,
    by: Segment = Query(default="income_band"),
) -> Response:
    return respond(q, f"segmentos-{by}", q.analytics.segments(q.filters, by=by))


@router.get(
    "/default-rates",
    summary="Incumplimiento observado de clientes históricos (ETL)",
    responses=_responses(list[DefaultRateRow]),
)
def default_rates(
    _u: AnalystDep,
    q: QueryDep,
    by: Literal[
        "source", "tenure", "income_band", "payroll_bank", "recommended_bank", "age_band", "employed"
    ] = "source",
    source: Annotated[Annotated[str, Text(64)] | None, Query()] = None,
) -> Response:
    return respond(q, f"incumplimiento-{by}", q.analytics.default_rates(by=by, source=source))


@router.get(
    "/delinquency",
    summary="Morosidad observada (ETL) por cohorte o segmento, junto a la PD estimada de los mismos créditos",
    responses=_responses(Delinquency),
)
def delinquency(
    _u: AnalystDep,
    request: Request,
    q: QueryDep,
    by: DelinquencyGroup = Query(default="cohort_month"),
    source: Annotated[
        Annotated[str, Text(64)] | None, Query(description="Fuente de loan_outcomes (p. ej. asesor)")
    ] = None,
) -> Response:
    """Every loaded outcome by default: `desde`/`hasta` filter the origination date only when given (outcomes
    mature long after the 30 days the other reports default to)."""
    f = q.filters
    if "desde" not in request.query_params and "hasta" not in request.query_params:
        f = dataclasses.replace(f, start=None, end=None)
    data = q.analytics.delinquency(by=by, f=f, source=source)
    return respond(q, f"morosidad-{by}", data, lambda d: [*d["rows"], d["total"]])


@router.get(
    "/monitoring/psi",
    summary="Estabilidad de la población (PSI) frente a la de entrenamiento del modelo en servicio",
    responses=_responses(PopulationPsi),
)
def population_psi(_u: AnalystDep, request: Request, q: QueryDep) -> Response:
    """PSI per model input and for the credit score of the period's applicants assessed by the model in
    service, against its training population (bands: < 0.10 stable, 0.10–0.25 moderate, ≥ 0.25 significant)."""
    from api.services import monitoring

    data = monitoring.population_psi(q.analytics, monitoring.served_artifact(request.app.state), q.filters)
    columns = ("variable", "label_es", "psi", "band", "label", "applicants")
    return respond(q, "psi", data, lambda d: [{k: r[k] for k in columns} for r in d["rows"]])


@router.get(
    "/strategies",
    summary="Estrategias por segmento: segmentos ordenados con la acción que sugieren las reglas de la política",
    responses=_responses(Strategies),
)
def strategies(_u: AnalystDep, q: QueryDep) -> Response:
    """Segments (the policy's `[strategies].dimensions`, by default payroll bank × income band × down payment)
    of the period: size, approval probability, mean PD, expected loss per applicant, the bank most often
    recommended, and the suggested action of the first `[[strategies.rules]]` rule that holds."""
    from api.services.strategies import strategies as ranked

    data = ranked(q.analytics, q.analytics.policy, q.filters)

    def table(d: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                **{k: v for k, v in s.items() if k != "suggestion"},
                "action": s["suggestion"]["action"],
                "suggestion": s["suggestion"]["label"],
                "rule": s["suggestion"]["rule"],
            }
            for s in d["segments"]
        ]

    return respond(q, "estrategias", data, table)
