"""Sessions and abuse (issue #13, "Sessions and abuse"), over real HTTP (uvicorn), real Redis and both databases:

- X-Forwarded-For / -Proto count only from ASESOR_TRUSTED_PROXIES (`asesor api serve` as a real process);
- per-account login back-off on `POST /v1/auth/token` and `POST /login`, shared by two API processes through
  Redis, the same for unknown usernames, cleared by a success;
- logout (API and page) and password change (API and `asesor api set-password`) revoke older tokens and cookies;
- `Cache-Control: no-store` and `Pragma: no-cache` on every route that answers personal data.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.services import users
from storage.events import EventSink, SpoolOutbox
from tests.api.conftest import PASSWORD, PROFILE, make_handoff, make_settings, served, shared_assessor
from tests.private_services import free_port
from tests.processes import ASESOR, REPO, ApiProcess, service_env

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HTML = {"Accept": "text/html"}


def _serve(app: Any) -> contextlib.AbstractContextManager[str]:
    """The app on uvicorn in a thread, configured as `asesor api serve` runs it (uvicorn's proxy handling off)."""
    return served(app, free_port(), proxy_headers=False)


def _app(storage: Any, settings: Any, tmp_path: Path, namespace: str) -> Any:
    events = EventSink(storage.engine, SpoolOutbox(tmp_path / f"outbox-{uuid.uuid4().hex[:6]}", fsync=False))
    return create_app(
        settings, storage=storage, event_sink=events, assessor_factory=shared_assessor, chat_namespace=namespace
    )


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"  # this test's Redis keys (rate limits, back-off)


def _user(storage: Any, role: str = "analyst") -> str:
    username = f"u{uuid.uuid4().hex[:10]}"  # the back-off keys of one test never meet another's
    users.create_user(storage, username=username, password=PASSWORD, role=role)
    return username


def _login(c: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return c.post("/v1/auth/token", data={"username": username, "password": password})


def _bearer(c: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = _login(c, username, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# ------------------------------------------------------------------------------------------ trusted proxies
def _address(first: int = 10) -> str:
    # addresses of this run only: the rate-limit buckets in the shared Redis are not another run's
    return f"{first}.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def _loopback_client(base: str) -> httpx.Client:
    # a source address of its own inside 127/8 (all of it is loopback on Linux)
    transport = httpx.HTTPTransport(local_address=_address(127))
    return httpx.Client(base_url=base, transport=transport, timeout=30)


def _api_process(sqlite_url: str, tmp_path: Path, name: str, **env: str) -> ApiProcess:
    settings = service_env(sqlite_url, REDIS, tmp_path / name, ASESOR_LOGIN_RATE_LIMIT="3/minute", **env)
    return ApiProcess(settings, tmp_path / f"{name}.log")


def _spoofing_logins(c: httpx.Client) -> list[int]:
    statuses = []
    for _ in range(5):
        spoof = {"X-Forwarded-For": _address()}
        form = {"username": f"nadie{uuid.uuid4().hex[:8]}", "password": "no-es-la-clave"}
        statuses.append(c.post("/v1/auth/token", data=form, headers=spoof).status_code)
    return statuses


def test_forwarded_headers_count_only_from_trusted_proxies(sqlite_url: str, tmp_path: Path) -> None:
    untrusted = _api_process(sqlite_url, tmp_path, "untrusted")  # the default: no trusted proxy
    trusted = _api_process(sqlite_url, tmp_path, "trusted", ASESOR_TRUSTED_PROXIES="127.0.0.0/8")
    try:
        untrusted.start()
        trusted.start()
        with _loopback_client(untrusted.base) as c:
            # a rotating X-Forwarded-For from an untrusted peer changes nothing: one address, one bucket
            statuses = _spoofing_logins(c)
            assert statuses == [401, 401, 401, 429, 429], statuses
            r = c.get("/v1/auth/me/", headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
            assert r.status_code == 307 and r.headers["location"].startswith("http://"), r.headers
        with _loopback_client(trusted.base) as c:
            # from a trusted proxy each forwarded client has its own bucket, and the scheme is the proxy's
            assert _spoofing_logins(c) == [401] * 5
            r = c.get("/v1/auth/me/", headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
            assert r.status_code == 307 and r.headers["location"].startswith("https://"), r.headers
            # and the limit holds per real client behind it
            same = {"X-Forwarded-For": _address()}
            form = {"username": f"nadie{uuid.uuid4().hex[:8]}", "password": "no-es-la-clave"}
            got = [c.post("/v1/auth/token", data=form, headers=same).status_code for _ in range(4)]
            assert got == [401, 401, 401, 429], got
    finally:
        untrusted.stop()
        trusted.stop()


# ----------------------------------------------------------------------------------------- login back-off
BACKOFF = {
    "ASESOR_LOGIN_MAX_FAILURES": 3,
    "ASESOR_LOGIN_BACKOFF_SECONDS": 1,
    "ASESOR_LOGIN_RATE_LIMIT": "1000/minute",
}


@pytest.fixture
def two_workers(storage: Any, db_url: str, tmp_path: Path, namespace: str) -> Iterator[tuple[str, str]]:
    """Two API processes' worth of apps (own caches, own limiter clients) sharing the database and Redis."""
    settings = make_settings(db_url, tmp_path, REDIS_URL=REDIS, **BACKOFF)
    with (
        _serve(_app(storage, settings, tmp_path, namespace)) as a,
        _serve(_app(storage, settings, tmp_path, namespace)) as b,
    ):
        yield a, b


def _problem(r: httpx.Response) -> dict[str, Any]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    body.pop("instance", None)
    body.pop("request_id", None)  # each answer has its own (api.middleware.RequestId)
    return body


def test_login_backoff_per_account_across_workers(storage: Any, two_workers: tuple[str, str]) -> None:
    username = _user(storage)
    a, b = (httpx.Client(base_url=url, timeout=30) for url in two_workers)
    with a, b:
        assert [_login(c, username, "mala-clave").status_code for c in (a, b)] == [401, 401]
        assert _login(b, username).status_code == 200  # a success clears the count
        assert [_login(c, username, "mala-clave").status_code for c in (a, b)] == [401, 401]

        third = _login(a, username, "mala-clave")  # the third failure in a row, whichever worker saw each
        assert third.status_code == 429 and third.headers["retry-after"] == "1", third.text
        locked = _login(b, username)  # the right password waits too: it is not even checked
        assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 1
        assert "Demasiados intentos fallidos con esta cuenta" in _problem(locked)["detail"]

        time.sleep(1.2)
        doubled = _login(b, username, "mala-clave")  # one more failure after the wait: twice as long
        assert doubled.status_code == 429 and doubled.headers["retry-after"] == "2"
        time.sleep(2.2)
        assert _login(a, username).status_code == 200
        assert _login(a, username, "mala-clave").status_code == 401  # cleared by the success


def test_unknown_usernames_get_the_same_answers(storage: Any, two_workers: tuple[str, str]) -> None:
    known, unknown = _user(storage), f"nadie{uuid.uuid4().hex[:8]}"
    a, b = (httpx.Client(base_url=url, timeout=30) for url in two_workers)
    with a, b:
        answers: dict[str, list[tuple[int, dict[str, Any], str | None]]] = {}
        for username in (known, unknown):
            answers[username] = []
            for c in (a, b, a, b):
                r = _login(c, username, "mala-clave")
                answers[username].append((r.status_code, _problem(r), r.headers.get("retry-after")))
    assert [s for s, _, _ in answers[known]] == [401, 401, 429, 429]
    assert answers[known] == answers[unknown]  # statuses, bodies and waits: nothing says which one exists


def test_login_page_backs_off_in_spanish(storage: Any, two_workers: tuple[str, str]) -> None:
    username = _user(storage)
    a, b = (httpx.Client(base_url=url, timeout=30) for url in two_workers)
    with a, b:
        form = {"username": username, "password": "mala-clave", "next": ""}
        statuses = [c.post("/login", data=form).status_code for c in (a, b)]
        page = a.post("/login", data=form)
        assert statuses == [401, 401]
        assert page.status_code == 429 and page.headers["retry-after"] == "1"
        assert page.headers["content-type"].startswith("text/html")
        assert "Demasiados intentos fallidos con esta cuenta" in page.text and "1 segundo" in page.text
        # the API and the page count the same account
        assert _login(b, username).status_code == 429


# --------------------------------------------------------------------------------------- token revocation
@pytest.fixture
def server(storage: Any, db_url: str, tmp_path: Path, namespace: str) -> Iterator[str]:
    # the default auth cache (5 s): a revocation must not wait for it in the worker that handled it
    settings = make_settings(
        db_url, tmp_path, REDIS_URL=REDIS, ASESOR_AUTH_CACHE_SECONDS=5, ASESOR_LOGIN_RATE_LIMIT="1000/minute"
    )
    with _serve(_app(storage, settings, tmp_path, namespace)) as url:
        yield url


def test_logout_revokes_the_token(storage: Any, server: str) -> None:
    username = _user(storage)
    with httpx.Client(base_url=server, timeout=30) as c:
        first, second = _bearer(c, username), _bearer(c, username)
        assert c.get("/v1/auth/me", headers=first).status_code == 200  # now in the auth cache
        assert c.post("/v1/auth/logout", headers=first).status_code == 204
        for old in (first, second):  # logout closes every session of the account
            r = c.get("/v1/auth/me", headers=old)
            assert r.status_code == 401 and "La sesión se cerró" in r.json()["detail"]
        assert c.post("/v1/auth/logout", headers=first).status_code == 401
        fresh = _bearer(c, username)
        assert c.get("/v1/auth/me", headers=fresh).json()["username"] == username


def test_page_logout_revokes_the_cookie(storage: Any, server: str) -> None:
    username = _user(storage)
    with httpx.Client(base_url=server, timeout=30) as c:
        r = c.post("/login", data={"username": username, "password": PASSWORD, "next": "/dashboard"})
        assert r.status_code == 303
        cookie = c.cookies["asesor_session"]
        assert c.get("/v1/auth/me").status_code == 200
        assert c.post("/logout").status_code == 303
        assert "asesor_session" not in c.cookies
    with httpx.Client(base_url=server, timeout=30, cookies={"asesor_session": cookie}) as replay:
        # the old cookie, kept by someone (a shared computer, a copied header): refused everywhere
        assert replay.get("/v1/auth/me").status_code == 401
        dashboard = replay.get("/dashboard", follow_redirects=False)
        assert dashboard.status_code == 303 and dashboard.headers["location"].startswith("/login")


def test_password_change_revokes_older_tokens(storage: Any, server: str) -> None:
    username = _user(storage)
    with httpx.Client(base_url=server, timeout=30) as c:
        old = _bearer(c, username)
        assert c.get("/v1/auth/me", headers=old).status_code == 200
        wrong = c.post(
            "/v1/auth/password", json={"current_password": "no-es", "new_password": "otra-clave-larga-1"}, headers=old
        )
        assert wrong.status_code == 403 and wrong.json()["errors"][0]["field"] == "current_password"
        r = c.post(
            "/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "otra-clave-larga-1"},
            headers=old,
        )
        assert r.status_code == 200, r.text
        new = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert c.get("/v1/auth/me", headers=old).status_code == 401
        assert c.get("/v1/auth/me", headers=new).status_code == 200
        assert _login(c, username).status_code == 401
        assert _login(c, username, "otra-clave-larga-1").status_code == 200


def test_cli_set_password_revokes_tokens(storage: Any, db_url: str, server: str, tmp_path: Path) -> None:
    username = _user(storage)
    with httpx.Client(base_url=server, timeout=30) as c:
        old = _bearer(c, username)
        assert c.get("/v1/auth/me", headers=old).status_code == 200
        env = service_env(db_url, REDIS, tmp_path / "cli")
        done = subprocess.run(
            [*ASESOR, "api", "set-password", username, "--password-stdin"],
            input="clave-desde-la-terminal\n",
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert '"revoked": true' in done.stdout
        # another process changed the row and told the workers through Redis: refused well within the 5 s cache
        _refused_within(c, old, 2.0)
        assert _login(c, username, "clave-desde-la-terminal").status_code == 200
        unknown = subprocess.run(
            [*ASESOR, "api", "set-password", "nadie-aqui", "--password-stdin"],
            input="clave-desde-la-terminal\n",
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
        )
        assert unknown.returncode == 2 and "unknown_user" in unknown.stderr and "Traceback" not in unknown.stderr


def _refused_within(c: httpx.Client, headers: dict[str, str], seconds: float) -> float:
    start = time.monotonic()
    while c.get("/v1/auth/me", headers=headers).status_code == 200:
        assert time.monotonic() - start < seconds, f"the old token still works after {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_logout_reaches_every_worker_at_once(storage: Any, db_url: str, tmp_path: Path, namespace: str) -> None:
    """Two workers with the default 5 s auth cache: a logout on one is refused by the other well before that."""
    settings = make_settings(db_url, tmp_path, REDIS_URL=REDIS, ASESOR_AUTH_CACHE_SECONDS=5, **BACKOFF)
    apps = (_app(storage, settings, tmp_path, namespace), _app(storage, settings, tmp_path, namespace))
    username = _user(storage)
    with _serve(apps[0]) as url_a, _serve(apps[1]) as url_b, contextlib.ExitStack() as stack:
        a = stack.enter_context(httpx.Client(base_url=url_a, timeout=30))
        b = stack.enter_context(httpx.Client(base_url=url_b, timeout=30))
        time.sleep(0.5)  # the listeners subscribe at start-up
        token = _bearer(a, username)
        assert b.get("/v1/auth/me", headers=token).status_code == 200  # B now trusts its cached row for 5 s
        assert a.post("/v1/auth/logout", headers=token).status_code == 204
        assert a.get("/v1/auth/me", headers=token).status_code == 401  # the worker that handled it: at once
        assert _refused_within(b, token, 2.0) < 2.0  # the other: told through Redis, not after its 5 s cache


# ------------------------------------------------------------------------------------------ no-store
def test_personal_data_is_never_stored_by_caches(storage: Any, server: str, api_settings: Any) -> None:
    analyst, advisor, admin = _user(storage), _user(storage, "advisor"), _user(storage, "admin")
    handoff = make_handoff(storage, api_settings, shared_assessor())
    with httpx.Client(base_url=server, timeout=60) as c:
        as_analyst, as_advisor, as_admin = _bearer(c, analyst), _bearer(c, advisor), _bearer(c, admin)
        assessment = c.post("/v1/assessments", json=PROFILE, headers=as_analyst)
        assert assessment.status_code in (200, 201), assessment.text
        assessment_id = assessment.json()["id"]
        form = {"username": advisor, "password": PASSWORD, "next": ""}
        with httpx.Client(base_url=server, timeout=60) as pages, httpx.Client(base_url=server, timeout=60) as mine:
            assert pages.post("/login", data=form).status_code == 303
            assert mine.post("/login", data={**form, "username": analyst}).status_code == 303
            checked = {
                "POST /v1/auth/token": _login(c, analyst),
                "GET /v1/auth/me": c.get("/v1/auth/me", headers=as_analyst),
                "GET /v1/users": c.get("/v1/users", headers=as_admin),
                "POST /v1/assessments": assessment,
                "GET /v1/assessments/{id}": c.get(f"/v1/assessments/{assessment_id}", headers=as_analyst),
                "GET /v1/escalations": c.get("/v1/escalations", headers=as_advisor),
                "GET /v1/analytics/funnel": c.get("/v1/analytics/funnel", headers=as_analyst),
                "GET /resultado/{token}": c.get(f"/resultado/{handoff.token}", headers=HTML),
                "GET /solicitud/{token}": c.get(handoff.form_url, headers=HTML),
                "GET /solicitud/{token}/confirmacion": c.get(f"{handoff.form_url}/confirmacion", headers=HTML),
                "GET /asesores": pages.get("/asesores"),
                "GET /dashboard": mine.get("/dashboard"),
                "GET /chat": c.get("/chat", headers=HTML),
                "GET /chat/log": c.get("/chat/log"),
                "GET /v1/auth/me (401)": c.get("/v1/auth/me"),
            }
    for route, r in checked.items():
        assert r.status_code < 500, (route, r.status_code)
        assert r.headers.get("cache-control") == "no-store", (route, r.headers.get("cache-control"))
        assert r.headers.get("pragma") == "no-cache", (route, r.headers)
    ok = {route for route, r in checked.items() if r.status_code < 400}
    assert len(ok) >= 12, sorted(set(checked) - ok)  # most of them answered with their data, not an error
