"""Liveness, readiness and metrics.

- `/healthz`: public, no I/O; the process is up.
- `/readyz`: public (load balancers and container probes send no token): database and Redis reachable, 503 with
  Retry-After naming the one that is not. It says nothing sensitive: which dependency, ok or not, the exception's
  class name and the latency; no host, URL, version or error text.
- `/metrics`: admin role (the Prometheus scraper signs in as a service account with role admin).
"""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api import metrics
from api.deps import AdminDep, SettingsDep
from api.errors import RETRY_AFTER_SECONDS, problem_responses

router = APIRouter(tags=["salud"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    detail: str
    latency_ms: float | None = None


class Readiness(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, Check]


@router.get("/healthz", response_model=Health, summary="El proceso está vivo")
def healthz() -> Health:
    return Health()


def _check_db(request: Request) -> Check:
    start = time.perf_counter()
    try:
        request.app.state.storage.ping()
    except Exception as exc:
        return Check(ok=False, detail=f"base de datos inaccesible: {type(exc).__name__}")
    return Check(ok=True, detail="ok", latency_ms=round((time.perf_counter() - start) * 1000, 2))


def _check_redis(url: str | None) -> Check:
    if not url:
        return Check(ok=True, detail="no configurado (REDIS_URL vacío)")
    import redis

    start = time.perf_counter()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return Check(ok=False, detail=f"Redis inaccesible: {type(exc).__name__}")
    return Check(ok=True, detail="ok", latency_ms=round((time.perf_counter() - start) * 1000, 2))


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Base de datos y Redis accesibles",
    responses={503: {"model": Readiness, "description": "Alguna dependencia no responde"}},
)
def readyz(request: Request, settings: SettingsDep) -> Response:
    checks = {"database": _check_db(request), "redis": _check_redis(settings.redis_url)}
    ready = all(c.ok for c in checks.values())
    body = Readiness(status="ok" if ready else "degraded", checks=checks)
    if ready:
        return JSONResponse(body.model_dump())
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@router.get(
    "/metrics",
    summary="Métricas de Prometheus",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **problem_responses(401, 403)},
)
def prometheus_metrics(request: Request, _admin: AdminDep, settings: SettingsDep) -> Response:
    psi = getattr(request.app.state, "psi_metrics", None)
    body, content_type = metrics.render(psi, settings.prometheus_multiproc_dir)
    return Response(body, media_type=content_type)
