"""Issue #13, item 1: the public development secret made admin access forgeable. Reproduced here as the attacker
did it, then shown to fail: production refuses to start with it, and a production server with its own keys
rejects what the public values sign. Also: one key per purpose, and rotation with `…_PREVIOUS` keys."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from itsdangerous import URLSafeTimedSerializer

from api.main import create_app
from bot.app import webhook_secret
from core.config import (
    DEV_HANDOFF_SECRET,
    DEV_JWT_SECRET,
    DEV_WEBHOOK_SECRET,
    EXIT_CONFIG,
    LEGACY_DEV_SECRET_KEY,
    Settings,
    UnsafeSettings,
)
from core.handoff import make_handoff_token, verify_handoff_token
from tests.api.conftest import make_handoff, make_settings
from tests.conftest import TEST_FERNET_KEY

ASESOR = str(Path(sys.executable).with_name("asesor"))
PUBLIC_VALUES = (LEGACY_DEV_SECRET_KEY, DEV_JWT_SECRET, DEV_HANDOFF_SECRET, DEV_WEBHOOK_SECRET)


def production_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ASESOR_ENV": "production",
        "ASESOR_JWT_SECRET": secrets.token_urlsafe(32),
        "ASESOR_HANDOFF_SECRET": secrets.token_urlsafe(32),
        "ASESOR_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "ASESOR_CHAT_SECRET": secrets.token_urlsafe(32),
        "ASESOR_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "ASESOR_FERNET_KEY": TEST_FERNET_KEY,  # the `storage` fixture's key
        "API_PUBLIC_URL": "https://asesor.example.mx",
        **overrides,
    }
    return make_settings(db_url, tmp_path, **values)


def forged_admin_jwt(secret: str, admin_id: int) -> str:
    """What the attacker computed from a public secret: the key derivation is in the repository."""
    now = int(time.time())
    claims = {"sub": str(admin_id), "role": "admin", "aud": "asesor-api", "iat": now, "exp": now + 600}
    return jwt.encode(claims, hashlib.sha256(f"jwt:{secret}".encode()).hexdigest(), algorithm="HS256")


def forged_handoff_token(secret: str, applicant_key: str, assessment_id: str) -> str:
    payload = {"v": 1, "a": applicant_key, "s": assessment_id, "n": "forjado"}
    return URLSafeTimedSerializer(secret, salt="handoff").dumps(payload)


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_attack_works_in_development_only(storage: Any, tmp_path: Path, db_url: str, staff: dict) -> None:
    """With the public development values an admin JWT opens /v1/users: that is why production refuses them."""
    dev = make_settings(db_url, tmp_path, ASESOR_JWT_SECRET=DEV_JWT_SECRET, ASESOR_FERNET_KEY=TEST_FERNET_KEY)
    async with await _client(create_app(dev, storage=storage)) as c:
        forged = {"Authorization": f"Bearer {forged_admin_jwt(DEV_JWT_SECRET, staff['admin'].id)}"}
        assert (await c.get("/v1/users", headers=forged)).status_code == 200
    with pytest.raises(UnsafeSettings) as info:
        create_app(dev.model_copy(update={"env": "production"}), storage=storage)
    assert "ASESOR_JWT_SECRET" in {p.setting for p in info.value.problems}


async def test_public_values_open_nothing_on_a_production_server(
    storage: Any, tmp_path: Path, db_url: str, staff: dict, assessor: Any
) -> None:
    settings = production_settings(db_url, tmp_path)
    real = make_handoff(storage, settings, assessor)
    other = make_handoff(storage, settings, assessor, telegram_id=5_550_002)
    async with await _client(create_app(settings, storage=storage)) as c:
        # the forge itself is sound: signed with the server's real key it is accepted
        genuine = forged_admin_jwt(settings.jwt_secret.get_secret_value(), staff["admin"].id)
        assert (await c.get("/v1/users", headers={"Authorization": f"Bearer {genuine}"})).status_code == 200
        for public in PUBLIC_VALUES:
            headers = {"Authorization": f"Bearer {forged_admin_jwt(public, staff['admin'].id)}"}
            assert (await c.get("/v1/users", headers=headers)).status_code == 401
            assert (await c.get("/metrics", headers=headers)).status_code == 401
            body = {"username": "intrusa", "password": "x" * 12, "role": "admin"}
            assert (await c.post("/v1/users", json=body, headers=headers)).status_code == 401
            # another applicant's form, from their ids (in the link the bot sent them) and a public key
            token = forged_handoff_token(public, other.user_key, other.assessment_id)
            r = await c.get(f"/solicitud/{token}", headers={"accept": "text/html"})
            assert r.status_code == 400 and "Ana López" not in r.text
            # the webhook secret Telegram echoes
            assert webhook_secret(public, 123) != webhook_secret(settings.webhook_secret.get_secret_value(), 123)
        assert (await c.get(real.form_url, headers={"accept": "text/html"})).status_code == 200
        assert len(storage.list_users()) == len(staff)  # no admin was created


async def test_a_leak_of_one_key_yields_none_of_the_others(
    storage: Any, tmp_path: Path, db_url: str, staff: dict, assessor: Any
) -> None:
    settings = production_settings(db_url, tmp_path)
    victim = make_handoff(storage, settings, assessor)
    jwt_key, handoff_key = settings.jwt_secret.get_secret_value(), settings.handoff_secret.get_secret_value()
    webhook_key = settings.webhook_secret.get_secret_value()
    async with await _client(create_app(settings, storage=storage)) as c:
        chat_key = settings.chat_secret.get_secret_value()
        for leaked in (handoff_key, webhook_key, chat_key, settings.pseudonym_key.get_secret_value()):
            headers = {"Authorization": f"Bearer {forged_admin_jwt(leaked, staff['admin'].id)}"}
            assert (await c.get("/v1/users", headers=headers)).status_code == 401
        for leaked in (jwt_key, webhook_key):
            token = forged_handoff_token(leaked, victim.user_key, victim.assessment_id)
            assert (await c.get(f"/solicitud/{token}", headers={"accept": "text/html"})).status_code == 400
    for leaked in (jwt_key, handoff_key):
        assert webhook_secret(leaked, 1) != webhook_secret(webhook_key, 1)


async def test_jwt_rotation_accepts_the_previous_key_and_signs_with_the_new(
    storage: Any, tmp_path: Path, db_url: str, staff: dict
) -> None:
    from api.security import create_access_token, decode_access_token

    old_key, new_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    before = production_settings(db_url, tmp_path, ASESOR_JWT_SECRET=old_key)
    during = production_settings(db_url, tmp_path, ASESOR_JWT_SECRET=new_key, ASESOR_JWT_SECRET_PREVIOUS=old_key)
    after = production_settings(db_url, tmp_path, ASESOR_JWT_SECRET=new_key)
    old_token = create_access_token(before, subject=str(staff["admin"].id), role="admin")
    new_token = create_access_token(during, subject=str(staff["admin"].id), role="admin")
    async with await _client(create_app(during, storage=storage)) as c:
        for token in (old_token, new_token):
            assert (await c.get("/v1/users", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    decode_access_token(after, new_token)  # new tokens are signed with the new key...
    with pytest.raises(Exception, match="no es válido"):
        decode_access_token(before, new_token)  # ...not the old one
    async with await _client(create_app(after, storage=storage)) as c:
        r = await c.get("/v1/users", headers={"Authorization": f"Bearer {old_token}"})
        assert r.status_code == 401  # the rotation is over: the old key opens nothing


def test_handoff_rotation_keeps_sent_links_working() -> None:
    old_key, new_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    before = Settings(ASESOR_HANDOFF_SECRET=old_key)
    during = Settings(ASESOR_HANDOFF_SECRET=new_key, ASESOR_HANDOFF_SECRET_PREVIOUS=old_key)
    after = Settings(ASESOR_HANDOFF_SECRET=new_key)
    sent = make_handoff_token("clave", "a1", settings=before)
    fresh = make_handoff_token("clave", "a1", settings=during)
    assert verify_handoff_token(sent, settings=during).assessment_id == "a1"
    assert verify_handoff_token(fresh, settings=after).assessment_id == "a1"
    from core.handoff import HandoffTokenInvalid

    with pytest.raises(HandoffTokenInvalid):
        verify_handoff_token(fresh, settings=before)
    with pytest.raises(HandoffTokenInvalid):
        verify_handoff_token(sent, settings=after)


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ASESOR_", "BOT_", "DATABASE_URL", "REDIS"))}
    clean.update(env)
    return subprocess.run(args, cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120, stdin=None)


@pytest.mark.parametrize(
    "command",
    [
        ["api", "serve", "--no-migrate"],
        ["bot", "--mode", "webhook"],
        ["api", "handoff-url", "clave", "a1"],
    ],
)
async def test_processes_refuse_unsafe_production_settings(tmp_path: Path, command: list[str]) -> None:
    """The issue's server started without a word; now each entry point exits 3 with a JSON error."""
    r = _run(
        [ASESOR, *command],
        tmp_path,
        ASESOR_ENV="production",
        DATABASE_URL="postgresql+psycopg://asesor:asesor@127.0.0.1:5432/no_se_usa",
        BOT_TOKEN="123456:" + "A" * 35,
        WEBHOOK_URL="https://bot.example.mx",
        API_PUBLIC_URL="https://asesor.example.mx",
    )
    assert r.returncode == EXIT_CONFIG, r.stderr
    assert "Traceback" not in r.stderr
    payload = json.loads(r.stderr.strip().splitlines()[-1])["error"]
    assert payload["code"] == "unsafe_settings" and "ASESOR_HANDOFF_SECRET" in payload["message"]
    assert r.stdout == ""  # no link was printed


async def test_uvicorn_factory_refuses_too(tmp_path: Path) -> None:
    """`uvicorn api.main:app_from_env --factory` (the benchmark's and a container's way in)."""
    r = _run(
        [sys.executable, "-m", "uvicorn", "api.main:app_from_env", "--factory", "--port", "0"],
        tmp_path,
        ASESOR_ENV="staging",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    assert r.returncode == EXIT_CONFIG, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert json.loads(r.stderr.strip().splitlines()[-1])["error"]["field"] == "ASESOR_FERNET_KEY"
