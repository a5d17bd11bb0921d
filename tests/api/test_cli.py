"""`asesor api create-user` bootstraps an admin who can then log in; bad input exits 2 with a JSON error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.services import users
from cli.main import app
from core.config import get_settings
from storage.repositories import Storage


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ASESOR_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def test_create_user_from_stdin(env: str) -> None:
    runner = CliRunner()
    r = runner.invoke(
        app, ["api", "create-user", "jefa", "--role", "admin", "--password-stdin"], input="clave-muy-larga\n"
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["role"] == "admin"
    storage = Storage(env)
    try:
        assert users.authenticate(storage, "jefa", "clave-muy-larga") is not None
        assert users.authenticate(storage, "jefa", "otra-clave-larga") is None
    finally:
        storage.dispose()

    again = runner.invoke(app, ["api", "create-user", "jefa", "--password-stdin"], input="clave-muy-larga\n")
    assert again.exit_code == 2 and "ya existe" in again.stderr
    short = runner.invoke(app, ["api", "create-user", "otra", "--password-stdin"], input="corta\n")
    assert short.exit_code == 2 and json.loads(short.stderr)["error"]["field"] == "password"
