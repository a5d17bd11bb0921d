"""The policy lab for analysts (role analyst; admins too): replays and simulations as background jobs.

`POST /v1/policy/replays` (or `/simulations`) takes the policy file itself as the body (TOML,
`Content-Type: application/toml`), validates it with engine/policy (a bad file is a 422 whose errors name the
key), stores the run and starts it in a process of its own (lab.jobs); the answer is 202 with the run's status
URL. The status, the JSON report, the changed verdicts (CSV) and the HTML report are then fetched from there.
Only aggregates, assessment ids and pseudonymous keys come back: no personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.deps import AnalystDep, SettingsDep, StorageDep
from api.errors import ApiError, FieldError, problem_responses
from core import copy_es as copy
from engine.policy import PolicyError, parse_policy
from storage import policy_lab as runs

router = APIRouter(prefix="/v1/policy", tags=["laboratorio de política"])

Kind = Literal["replay", "simulate"]
TOML_TYPES = ("application/toml", "text/plain", "application/octet-stream", "text/x-toml")
PATHS = {"replay": "replays", "simulate": "simulations"}
REPORT_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RunLinks(_Open):
    status: str
    report: str
    changes_csv: str | None = None
    report_html: str | None = None


class PolicyRunView(_Open):
    id: str
    kind: str
    status: str
    policy_version: str
    policy_hash: str
    params: dict[str, Any]
    progress: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    summary: dict[str, Any] | None
    error: dict[str, Any] | None
    links: RunLinks


_BODY = {
    "requestBody": {
        "required": True,
        "description": "El archivo de política (TOML), tal cual.",
        "content": {"application/toml": {"schema": {"type": "string"}}},
    }
}


def _links(kind: str, run_id: str) -> RunLinks:
    base = f"/v1/policy/{PATHS[kind]}/{run_id}"
    if kind == "replay":
        return RunLinks(
            status=base, report=f"{base}/report", changes_csv=f"{base}/changes.csv", report_html=f"{base}/report.html"
        )
    return RunLinks(status=base, report=f"{base}/report")


def view(run: Any) -> PolicyRunView:
    from lab.jobs import effective_status

    status = effective_status(run)
    error = run.error
    if status == "failed" and error is None:
        error = {"type": "Interrupted", "message": "El proceso de la corrida dejó de responder."}
    return PolicyRunView(
        id=run.id,
        kind=run.kind,
        status=status,
        policy_version=run.policy_version,
        policy_hash=run.policy_hash,
        params=run.params or {},
        progress=run.progress or {},
        created_at=run.created_at.isoformat(),
        started_at=run.started_at.isoformat() if run.started_at else None,
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        summary=run.summary,
        error=error,
        links=_links(run.kind, run.id),
    )


async def _policy_text(request: Request) -> tuple[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in TOML_TYPES:
        raise ApiError(415, "Envía el archivo de política como cuerpo con Content-Type: application/toml.")
    raw = await request.body()
    try:
        policy = parse_policy(raw, Path("policy.toml"))
    except PolicyError as exc:
        file_level = exc.code != "invalid_values"  # unreadable or not TOML: one message for the whole file
        errors = [
            FieldError(
                field=i.get("key") or "(archivo)",
                message=copy.policy_message(exc.code, "policy.toml", exc.issues)
                if file_level
                else copy.policy_problem(i),
                type="policy",
            )
            for i in exc.issues
        ]
        keys = ", ".join(dict.fromkeys(e.field for e in errors))
        raise ApiError(422, f"La política no es válida; revisa: {keys}.", errors=errors) from None
    return raw.decode("utf-8"), policy


async def _start(request: Request, kind: Kind, user: Any, storage: Any, settings: Any, params: dict) -> Response:
    text, policy = await _policy_text(request)
    if kind == "simulate":
        from lab.simulate import available

        if not available():
            raise ApiError(503, "La simulación de políticas aún no está disponible en esta versión.")
    run_id = await run_in_threadpool(
        runs.create_run,
        storage.engine,
        kind=kind,
        policy_toml=text,
        policy_version=policy.version,
        policy_hash=policy.content_hash,
        params=params,
        created_by=user.id,
    )
    launcher: Callable[..., Any] | None = getattr(request.app.state, "lab_launcher", None)
    if launcher is None:
        from lab.jobs import launch

        launcher = launch
    await run_in_threadpool(
        launcher,
        run_id,
        database_url=settings.resolved_database_url,
        model_dir=settings.resolved_model_dir,
        data_dir=settings.data_dir,
    )
    run = await run_in_threadpool(runs.get_run, storage.engine, run_id)
    body = view(run)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": body.links.status})


async def _run(storage: Any, kind: str, run_id: str, *, results: bool = False, done: bool = False) -> Any:
    run = await run_in_threadpool(runs.get_run, storage.engine, run_id, with_results=results)
    if run is None or run.kind != kind:
        raise ApiError(404, "No existe esa corrida.")
    if done and run.status != "done":
        from lab.jobs import effective_status

        raise ApiError(409, f"La corrida aún no tiene resultados (estado: {effective_status(run)}).")
    return run


_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": PolicyRunView, "description": "Corrida aceptada; su estado en `Location`"}
}
_START_ERRORS = problem_responses(401, 403, 413, 415, 422)


@router.post(
    "/replays",
    summary="Replay: re-evaluar las evaluaciones guardadas con otra política",
    status_code=202,
    responses={**_ACCEPTED, **_START_ERRORS},
    openapi_extra=_BODY,
)
async def start_replay(
    request: Request,
    user: AnalystDep,
    storage: StorageDep,
    settings: SettingsDep,
    desde: date | None = Query(default=None, description="Primer día (UTC) de las evaluaciones, incluido"),
    hasta: date | None = Query(default=None, description="Último día (UTC), incluido"),
) -> Response:
    if desde and hasta and desde > hasta:
        err = FieldError(field="desde", message="`desde` no puede ser posterior a `hasta`.", type="range")
        raise ApiError(422, "Revisa el periodo.", errors=[err])
    params = {"since": desde.isoformat() if desde else None, "until": hasta.isoformat() if hasta else None}
    return await _start(request, "replay", user, storage, settings, params)


@router.post(
    "/simulations",
    summary="Simular la política sobre todo el espacio de respuestas (hasta ~2 min)",
    status_code=202,
    responses={**_ACCEPTED, **_START_ERRORS, **problem_responses(503)},
    openapi_extra=_BODY,
)
async def start_simulation(request: Request, user: AnalystDep, storage: StorageDep, settings: SettingsDep) -> Response:
    return await _start(request, "simulate", user, storage, settings, {})


@router.get(
    "/replays",
    summary="Replays recientes",
    responses={200: {"model": list[PolicyRunView]}, **problem_responses(401, 403)},
)
async def list_replays(_u: AnalystDep, storage: StorageDep) -> list[PolicyRunView]:
    return [view(r) for r in await run_in_threadpool(runs.latest_runs, storage.engine, "replay")]


_GET_ERRORS = problem_responses(401, 403, 404)


@router.get("/replays/{run_id}", summary="Estado de un replay", response_model=PolicyRunView, responses=_GET_ERRORS)
async def replay_status(run_id: str, _u: AnalystDep, storage: StorageDep) -> PolicyRunView:
    return view(await _run(storage, "replay", run_id))


@router.get(
    "/simulations/{run_id}", summary="Estado de una simulación", response_model=PolicyRunView, responses=_GET_ERRORS
)
async def simulation_status(run_id: str, _u: AnalystDep, storage: StorageDep) -> PolicyRunView:
    return view(await _run(storage, "simulate", run_id))


_RESULT_ERRORS = problem_responses(401, 403, 404, 409)


@router.get(
    "/replays/{run_id}/report",
    summary="Informe del replay (JSON)",
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}, **_RESULT_ERRORS},
)
async def replay_report(run_id: str, _u: AnalystDep, storage: StorageDep) -> Response:
    return JSONResponse((await _run(storage, "replay", run_id, results=True, done=True)).report)


@router.get(
    "/simulations/{run_id}/report",
    summary="Informe de la simulación (JSON)",
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}, **_RESULT_ERRORS},
)
async def simulation_report(run_id: str, _u: AnalystDep, storage: StorageDep) -> Response:
    return JSONResponse((await _run(storage, "simulate", run_id, results=True, done=True)).report)


@router.get(
    "/replays/{run_id}/changes.csv",
    summary="Solicitantes cuya decisión cambia (CSV: ids y claves seudónimas)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **_RESULT_ERRORS},
)
async def replay_changes(run_id: str, _u: AnalystDep, storage: StorageDep) -> Response:
    run = await _run(storage, "replay", run_id, results=True, done=True)
    return Response(
        run.changes_csv or "",
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="replay-{run_id[:8]}-cambios.csv"'},
    )


@router.get(
    "/replays/{run_id}/report.html",
    summary="Informe del replay (HTML)",
    response_class=HTMLResponse,
    responses=_RESULT_ERRORS,
)
async def replay_report_html(run_id: str, _u: AnalystDep, storage: StorageDep) -> Response:
    import csv
    import io

    from lab.report import HTML_CHANGES_SHOWN, render_html

    run = await _run(storage, "replay", run_id, results=True, done=True)
    reader = csv.DictReader(io.StringIO(run.changes_csv or ""))
    changes = [row for _, row in zip(range(HTML_CHANGES_SHOWN), reader, strict=False)]
    page = render_html(run.report, changes, csv_href=f"/v1/policy/replays/{run_id}/changes.csv")
    return HTMLResponse(page, headers=REPORT_HEADERS)
