"""Health, metrics, auth and roles, problem details, body size and CORS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.api.conftest import PASSWORD, make_settings

pytestmark = pytest.mark.asyncio


async def test_healthz_is_public(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_readyz_is_public_and_checks_database(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")  # probes and load balancers send no token (#17)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["checks"]["database"]["ok"] is True


async def test_readyz_reports_unreachable_redis(storage: Any, tmp_path, db_url: str) -> None:
    settings = make_settings(db_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    app = create_app(settings, storage=storage)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
    assert r.json()["checks"]["redis"]["ok"] is False
    assert r.json()["checks"]["redis"]["detail"] == "Redis inaccesible: ConnectionError"  # no host or port
    assert r.json()["checks"]["database"]["ok"] is True


async def test_metrics_admin_only_and_counts_route_templates(client: httpx.AsyncClient, staff: dict) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=staff["analyst"].headers)).status_code == 403
    await client.get("/solicitud/some-token-value", headers={"accept": "text/html"})
    r = await client.get("/metrics", headers=staff["admin"].headers)
    assert r.status_code == 200
    assert 'route="/solicitud/{token}"' in r.text
    assert "some-token-value" not in r.text  # raw paths (tokens) never become labels


async def test_password_login_issues_a_jwt_with_the_role(client: httpx.AsyncClient, staff: dict) -> None:
    r = await client.post("/v1/auth/token", data={"username": "analista", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["role"] == "analyst"
    me = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "analista"
    bad = await client.post("/v1/auth/token", data={"username": "analista", "password": "otra-cosa-123"})
    assert bad.status_code == 401 and "incorrectos" in bad.json()["detail"]
    nobody = await client.post("/v1/auth/token", data={"username": "nadie", "password": PASSWORD})
    assert nobody.status_code == 401


async def test_tampered_or_foreign_jwt_is_refused(client: httpx.AsyncClient, staff: dict, api_settings) -> None:
    token = staff["admin"].token
    r = await client.get("/v1/users", headers={"Authorization": f"Bearer {token[:-3]}abc"})
    assert r.status_code == 401
    from api.security import create_access_token
    from core.config import Settings

    other = Settings(ASESOR_JWT_SECRET="another-key", DATABASE_URL=api_settings.database_url)
    forged = create_access_token(other, subject=str(staff["admin"].id), role="admin")
    assert (await client.get("/v1/users", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_deactivated_user_loses_access_at_once(client: httpx.AsyncClient, staff: dict, storage: Any) -> None:
    headers = staff["analyst"].headers
    assert (await client.get("/v1/auth/me", headers=headers)).status_code == 200
    storage.update_user(staff["analyst"].id, is_active=False)
    assert (await client.get("/v1/auth/me", headers=headers)).status_code == 401


async def test_admin_creates_users_and_others_cannot(client: httpx.AsyncClient, staff: dict) -> None:
    body = {"username": "nuevo.asesor", "password": "otra-contraseña-1", "role": "advisor"}
    assert (await client.post("/v1/users", json=body, headers=staff["advisor"].headers)).status_code == 403
    r = await client.post("/v1/users", json=body, headers=staff["admin"].headers)
    assert r.status_code == 201 and r.json()["role"] == "advisor"
    again = await client.post("/v1/users", json=body, headers=staff["admin"].headers)
    assert again.status_code == 409
    short = await client.post(
        "/v1/users", json={**body, "username": "x1y2z3", "password": "corta"}, headers=staff["admin"].headers
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "password"


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        ("advisor", "/v1/escalations", True),
        ("analyst", "/v1/escalations", False),  # the queue shows personal data
        ("advisor", "/v1/analytics/funnel", False),
        ("analyst", "/v1/analytics/funnel", True),
        ("analyst", "/v1/assessments/00000000-0000-0000-0000-000000000000", False),
        ("advisor", "/v1/assessments/00000000-0000-0000-0000-000000000000", True),  # 404, but allowed
        ("admin", "/v1/analytics/funnel", True),
        ("admin", "/v1/escalations", True),
    ],
)
async def test_role_matrix(client: httpx.AsyncClient, staff: dict, role: str, path: str, allowed: bool) -> None:
    r = await client.get(path, headers=staff[role].headers)
    if allowed:
        assert r.status_code in (200, 404), r.text
    else:
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("application/problem+json")
    anonymous = await client.get(path)
    assert anonymous.status_code == 401


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/existe")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "No encontrado" and r.json()["instance"] == "/no/existe"


async def test_body_size_limit(client: httpx.AsyncClient, staff: dict, api_settings) -> None:
    big = b'{"x": "' + b"a" * (api_settings.api_max_body_bytes + 10) + b'"}'
    r = await client.post(
        "/v1/assessments", content=big, headers={**staff["advisor"].headers, "content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["status"] == 413

    async def chunks():  # no Content-Length: the streamed bytes are counted
        for _ in range(20):
            yield b"a" * (api_settings.api_max_body_bytes // 10)

    r = await client.post(
        "/v1/assessments", content=chunks(), headers={**staff["advisor"].headers, "content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_cors_from_configuration(storage: Any, tmp_path, db_url: str) -> None:
    settings = make_settings(db_url, tmp_path, CORS_ORIGINS=["https://panel.example"])
    app = create_app(settings, storage=storage)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.options(
            "/v1/auth/token",
            headers={"Origin": "https://panel.example", "Access-Control-Request-Method": "POST"},
        )
        other = await c.options(
            "/v1/auth/token",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert ok.headers.get("access-control-allow-origin") == "https://panel.example"
    assert "access-control-allow-origin" not in other.headers


async def test_login_attempts_are_rate_limited(client: httpx.AsyncClient, staff: dict, api_settings: Any) -> None:
    allowed = int(api_settings.login_rate_limit.split("/")[0])
    # one address guessing many accounts (each below the per-account back-off of tests/api/test_sessions.py)
    codes = [
        (await client.post("/v1/auth/token", data={"username": f"cuenta{i}", "password": "adivinanza-1"})).status_code
        for i in range(allowed + 2)
    ]
    assert codes[:allowed] == [401] * allowed and codes[allowed:] == [429, 429]
    page = await client.post("/login", data={"username": "analista", "password": PASSWORD})
    assert page.status_code == 429  # the page shares the counter: guessing cannot switch doors


async def test_openapi_docs_work_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text and "cdn." not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and len(js.content) > 100_000
    assert js.headers["x-content-type-options"] == "nosniff"
    assert 'PACKAGE_VERSION:"5.' in js.text  # Swagger UI 5 reads OpenAPI 3.1 (4.x showed "Unable to render")
    assert (await client.get("/static/docs.js")).status_code == 200
    assert (await client.get("/static/../routes/docs.py")).status_code == 404
    assert (await client.get("/openapi.json")).json()["info"]["title"]
