"""The one settings object (core/config.py): which configurations may start outside development (issue #13,
item 1) and how every environment variable of the adapters is declared (issue #18)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from core.config import (
    DEV_HANDOFF_SECRET,
    DEV_JWT_SECRET,
    EXIT_CONFIG,
    Component,
    Settings,
    UnsafeSettings,
    require_safe,
    settings_error_json,
    unsafe_settings,
)


def _secret() -> str:
    return secrets.token_urlsafe(32)


def production(**overrides: Any) -> Settings:
    """A configuration that may start in production (each test breaks one thing)."""
    values: dict[str, Any] = {
        "ASESOR_ENV": "production",
        "DATABASE_URL": "postgresql+psycopg://asesor:clave@db/asesor",
        "ASESOR_JWT_SECRET": _secret(),
        "ASESOR_HANDOFF_SECRET": _secret(),
        "ASESOR_WEBHOOK_SECRET": _secret(),
        "ASESOR_CHAT_SECRET": _secret(),
        "ASESOR_PSEUDONYM_KEY": _secret(),
        "ASESOR_FERNET_KEY": Fernet.generate_key().decode(),
        "API_PUBLIC_URL": "https://asesor.example.mx",
    }
    values.update(overrides)
    return Settings(**{k: v for k, v in values.items() if v is not None})


def _named(settings: Settings, component: Component = "api", **kwargs: Any) -> set[str]:
    return {p.setting for p in unsafe_settings(settings, component, **kwargs)}


def test_a_complete_production_configuration_may_start() -> None:
    s = production()
    for component in ("api", "bot", "handoff"):
        require_safe(s, component, webhook=True)


def test_development_starts_with_the_public_defaults() -> None:
    s = Settings()
    assert s.env == "development" and s.jwt_secret.get_secret_value() == DEV_JWT_SECRET
    assert unsafe_settings(s, "api") == [] and unsafe_settings(s, "bot", webhook=True) == []


def test_production_with_only_the_defaults_names_every_variable() -> None:
    """The issue's server: PostgreSQL, ASESOR_ENV=production, nothing else; it started without a word."""
    s = Settings(ASESOR_ENV="production", DATABASE_URL="postgresql+psycopg://a:b@db/asesor")
    with pytest.raises(UnsafeSettings) as info:
        require_safe(s, "api")
    payload = info.value.to_json()["error"]
    assert payload["code"] == "unsafe_settings" and payload["env"] == "production"
    assert {p["field"] for p in payload["problems"]} == {
        "ASESOR_JWT_SECRET",
        "ASESOR_HANDOFF_SECRET",
        "ASESOR_CHAT_SECRET",
        "ASESOR_PSEUDONYM_KEY",
        "ASESOR_FERNET_KEY",
        "API_PUBLIC_URL",
    }
    assert _named(s, "bot", webhook=True) == {
        "ASESOR_HANDOFF_SECRET",
        "ASESOR_PSEUDONYM_KEY",
        "ASESOR_WEBHOOK_SECRET",
        "ASESOR_FERNET_KEY",
        "API_PUBLIC_URL",
    }
    assert EXIT_CONFIG == 3


@pytest.mark.parametrize("env", ["staging", "production"])
@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("ASESOR_JWT_SECRET", DEV_JWT_SECRET, "desarrollo"),
        ("ASESOR_JWT_SECRET", "dev-only-secret-key-change-me", "desarrollo"),  # the old single key's default
        ("ASESOR_HANDOFF_SECRET", "corta", "corto"),
        ("ASESOR_HANDOFF_SECRET", "a" * 40, "distintos"),
        ("ASESOR_JWT_SECRET", "   ", "falta"),
        ("ASESOR_FERNET_KEY", "no-es-una-clave", "Fernet"),
        ("ASESOR_JWT_SECRET_PREVIOUS", DEV_HANDOFF_SECRET, "desarrollo"),
        ("API_PUBLIC_URL", "http://asesor.example.mx", "https"),
    ],
)
def test_each_unsafe_value_is_refused_and_named(env: str, variable: str, value: str, reason: str) -> None:
    problems = unsafe_settings(production(ASESOR_ENV=env, **{variable: value}), "api")
    assert [p.setting for p in problems] == [variable]
    assert reason in problems[0].message


def test_a_missing_fernet_key_is_refused_outside_development() -> None:
    assert _named(production(ASESOR_FERNET_KEY=None)) == {"ASESOR_FERNET_KEY"}


def test_development_on_a_server_database_needs_a_fernet_key_too() -> None:
    """The issue: without ASESOR_FERNET_KEY on PostgreSQL /readyz said ok, then the first read was a 500."""
    s = Settings(DATABASE_URL="postgresql+psycopg://a:b@db/asesor")
    assert _named(s) == {"ASESOR_FERNET_KEY"}
    assert _named(Settings()) == set()  # SQLite in development: a generated local key is fine
    assert _named(Settings(), cipher_ready=False) == {"ASESOR_FERNET_KEY"}


def test_one_value_for_two_secrets_is_refused() -> None:
    shared = _secret()
    problems = unsafe_settings(production(ASESOR_JWT_SECRET=shared, ASESOR_HANDOFF_SECRET=shared), "api")
    assert [p.setting for p in problems] == ["ASESOR_HANDOFF_SECRET"]
    assert "ASESOR_JWT_SECRET" in problems[0].message


def test_least_privilege_per_component() -> None:
    """The API needs no webhook key, the bot no JWT key: a host holds only the keys it uses."""
    assert _named(production(ASESOR_WEBHOOK_SECRET=None)) == set()
    assert _named(production(ASESOR_PSEUDONYM_KEY=None)) == {"ASESOR_PSEUDONYM_KEY"}
    assert _named(production(ASESOR_JWT_SECRET=None, ASESOR_CHAT_SECRET=None), "bot", webhook=True) == set()
    assert _named(production(ASESOR_WEBHOOK_SECRET=None), "bot", webhook=False) == set()
    assert _named(production(ASESOR_WEBHOOK_SECRET=None), "bot", webhook=True) == {"ASESOR_WEBHOOK_SECRET"}


def test_the_old_single_key_is_named_in_the_refusal() -> None:
    s = production(ASESOR_JWT_SECRET=None, ASESOR_SECRET_KEY=_secret())
    (problem,) = unsafe_settings(s, "api")
    assert problem.setting == "ASESOR_JWT_SECRET" and "ASESOR_SECRET_KEY ya no se usa" in problem.message


def test_signing_keys_put_the_current_key_first() -> None:
    s = production(ASESOR_JWT_SECRET="nueva" * 8, ASESOR_JWT_SECRET_PREVIOUS="vieja" * 8)
    assert s.signing_keys("jwt") == ["nueva" * 8, "vieja" * 8]
    assert s.signing_keys("handoff") == [s.handoff_secret.get_secret_value()]


def test_invalid_values_become_a_json_error_naming_the_variable() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(BOT_MODE="websocket")
    payload = settings_error_json(info.value)["error"]
    assert payload["code"] == "invalid_setting" and payload["field"] == "BOT_MODE"
    with pytest.raises(ValidationError) as info:
        Settings(ASESOR_ENV="prod")
    assert settings_error_json(info.value)["error"]["field"] == "ASESOR_ENV"
    with pytest.raises(ValidationError):
        Settings(ASESOR_TRUSTED_PROXIES="10.0.0.0/8, no-es-una-red")


def test_lists_read_as_comma_separated_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASESOR_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    monkeypatch.setenv("CORS_ORIGINS", '["https://panel.example"]')
    s = Settings()
    assert s.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"] and s.cors_origins == ["https://panel.example"]


def test_a_dotenv_file_is_read(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ASESOR_ENV=staging\nASESOR_SHARED_DATA=/datos\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASESOR_ENV", raising=False)
    monkeypatch.delenv("ASESOR_SHARED_DATA", raising=False)
    s = Settings()
    assert s.env == "staging" and str(s.resolved_shared_data_dir) == "/datos"


def test_every_field_names_its_variable_and_describes_it_in_both_languages() -> None:
    """firstrun renders the README's configuration table from these (issue #18)."""
    for name, info in Settings.model_fields.items():
        assert info.alias and info.alias.isupper(), name
        assert info.description, name
        extra = info.json_schema_extra
        assert isinstance(extra, dict) and extra.get("description_es"), name
    aliases = {info.alias for info in Settings.model_fields.values()}
    for variable in ("ASESOR_SHARED_DATA", "PROMETHEUS_MULTIPROC_DIR", "ASESOR_NEW_USER_PASSWORD", "ASESOR_ENV"):
        assert variable in aliases
