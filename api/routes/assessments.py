"""Assessments: run the engine on a SPEC §7 profile and store it; read it back; export its inferred graph."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ConfigDict

from api import metrics
from api.deps import AdvisorDep, AnyUserDep, AssessorDep, StorageDep
from api.errors import ApiError, FieldError, problem_responses
from core import copy_es as copy
from core.text import Text, text_problem
from engine.types import AssessmentRequest, AssessmentResult

router = APIRouter(prefix="/v1/assessments", tags=["evaluaciones"])

AssessmentId = Annotated[str, Text(36, min_length=1), Path(description="Id de la evaluación (uuid)")]


class StoredAssessment(AssessmentResult):
    """SPEC §7 result plus where it is stored."""

    model_config = ConfigDict(extra="forbid")

    id: str
    created_at: datetime
    channel: str


def input_error(exc: Any) -> ApiError:
    """engine.validation.AssessmentInputError -> 422 problem naming every field."""
    errors = [FieldError(field=e["field"], message=copy.input_message(e), type="policy") for e in exc.errors]
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return ApiError(422, copy.INPUT_FIELDS.format(fields=fields), errors=errors)


def _stored(row: Any) -> Response:
    """The stored result as it was written (an older engine version's result is still served as stored,
    not re-validated against today's model), plus where it is stored."""
    body = {
        **row.result,
        "id": row.id,
        "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        "channel": row.channel,
    }
    return JSONResponse(body)


@router.post(
    "",
    response_model=StoredAssessment,
    status_code=201,
    summary="Evaluar un perfil (contrato de `asesor assess`) y guardarlo",
    responses=problem_responses(401, 413, 422),
)
async def create_assessment(
    body: AssessmentRequest, _user: AnyUserDep, assessor: AssessorDep, storage: StorageDep
) -> Response:
    """`async` on purpose: the engine is CPU-bound (~1 ms) and runs on the event loop, so a worker does not
    pay thread hand-offs and GIL contention per request; only a networked database write goes to the pool."""
    from engine.validation import AssessmentInputError

    name = body.applicant.name
    if name is not None and (problem := text_problem(name)) is not None:  # the engine's model is ours to check
        raise ApiError(
            422,
            "Revisa estos campos: applicant.name.",
            errors=[FieldError(field="applicant.name", message=problem[1], type=problem[0])],
        )
    try:
        result = assessor.assess(body)
    except AssessmentInputError as exc:
        raise input_error(exc) from None
    # storage's own row builder (name redacted, analytics columns); created_at is set here so the response
    # carries the stored value without reading the row back
    row = storage.assessment_row(result, request=body, channel="api", created_at=datetime.now(UTC))
    await storage.ainsert_assessment_row(row)
    metrics.ASSESSMENTS.labels(result.expert.decision).inc()
    stored = StoredAssessment.model_construct(**dict(result), id=row["id"], created_at=row["created_at"], channel="api")
    # serialised once by pydantic (the result is already validated): FastAPI's response_model path would
    # validate and encode the ~6 KB result a second time; the schema above still documents it
    return Response(
        stored.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/assessments/{row['id']}"},
    )


@router.get(
    "/{assessment_id}",
    response_model=StoredAssessment,
    summary="Una evaluación guardada, con reglas disparadas y razones (asesores)",
    responses=problem_responses(401, 403, 404, 422),
)
def get_assessment(_advisor: AdvisorDep, storage: StorageDep, assessment_id: AssessmentId) -> Response:
    row = storage.get_assessment(assessment_id)
    if row is None:
        raise ApiError(404, "No existe una evaluación con ese id.")
    return _stored(row)


@router.get(
    "/{assessment_id}/graph.ttl",
    summary="Grafo ontológico inferido de la evaluación (Turtle, para auditoría)",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/turtle": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
def get_assessment_graph(
    _advisor: AdvisorDep, storage: StorageDep, assessor: AssessorDep, assessment_id: AssessmentId
) -> Response:
    row = storage.get_assessment(assessment_id)
    if row is None:
        raise ApiError(404, "No existe una evaluación con ese id.")
    # The graph is re-derived, not stored (it is large and rarely read). It is only the graph of that
    # assessment if the same policy and model produce it again, on the same date.
    stale = ApiError(
        409,
        "La evaluación se hizo con otra versión de la política o del modelo; "
        f"no se puede reproducir su grafo (política {row.policy_version}, modelo {row.model_version}).",
    )
    if row.policy_hash != assessor.policy.content_hash:
        raise stale
    if not row.request:
        raise ApiError(409, "La evaluación no guardó su solicitud; no se puede reproducir su grafo.")
    request = dict(row.request)
    applicant = dict(request.get("applicant") or {})
    applicant.pop("name", None)  # redacted at rest; the graph names nobody
    request["applicant"] = applicant
    as_of: date = row.created_at.date()
    result, turtle = assessor.assess_with_graph(request, as_of=as_of)
    if result.model_version != row.model_version:
        raise stale
    return Response(
        turtle,
        media_type="text/turtle; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="evaluacion-{row.id}.ttl"'},
    )
