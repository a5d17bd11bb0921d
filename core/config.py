"""Settings of the adapters (bot, API, CLI, storage), read from the environment.

The engine never reads these: it gets a policy and a model handed to it. Secrets have no defaults that
would work in production; local defaults are only for the embedded run (SQLite + a local Redis).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # where local state lives (SQLite file, model artifacts, spool files, reports)
    data_dir: Path = Field(
        default=REPO_ROOT / "var",
        alias="ASESOR_DATA_DIR",
        description="local state: SQLite file, model artifacts, event spool, reports",
    )
    # policy file; None = the one shipped in engine/policy/
    policy_file: Path | None = Field(
        default=None,
        alias="ASESOR_POLICY",
        description="policy file in service (default: the shipped `engine/policy/default.toml`)",
    )
    # model artifacts; None = <data_dir>/models
    model_dir: Path | None = Field(
        default=None, alias="ASESOR_MODEL_DIR", description="model artifacts (default: `<ASESOR_DATA_DIR>/models`)"
    )

    database_url: str | None = Field(
        default=None,
        alias="DATABASE_URL",
        description="SQLAlchemy URL, e.g. `postgresql+psycopg://user:pass@host/db` (default: SQLite in the data dir)",
    )
    redis_url: str | None = Field(
        default=None,
        alias="REDIS_URL",
        description="Redis: dialog state, idempotency, event outbox (`scripts/run.sh` starts one when unset)",
    )

    # keyed hash of Telegram ids (pseudonymous user keys) and encryption of personal data at rest
    pseudonym_key: SecretStr = Field(
        default=SecretStr("dev-only-pseudonym-key"),
        alias="ASESOR_PSEUDONYM_KEY",
        description="keyed hash of Telegram ids (pseudonymous applicant keys); fixed for the life of the data",
    )
    fernet_key: SecretStr | None = Field(
        default=None,
        alias="ASESOR_FERNET_KEY",
        description="Fernet key(s) encrypting personal data at rest, comma-separated: the first encrypts, all decrypt",
    )
    # signing of handoff links and JWTs
    secret_key: SecretStr = Field(
        default=SecretStr("dev-only-secret-key-change-me"),
        alias="ASESOR_SECRET_KEY",
        description="signs handoff links and JWTs; always set it in production",
    )

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN", description="the bot's token from @BotFather")
    bot_mode: str = Field(
        default="polling", alias="BOT_MODE", description="`polling` (local) or `webhook` (production)"
    )  # polling | webhook
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        alias="TELEGRAM_API_URL",
        description="base URL of the Bot API (a self-hosted `telegram-bot-api` or the tests' fake server)",
    )
    webhook_url: str | None = Field(
        default=None, alias="WEBHOOK_URL", description="public https URL Telegram calls in webhook mode"
    )
    advisors_chat_id: int | None = Field(
        default=None, alias="ADVISORS_CHAT_ID", description="Telegram chat (or forum) where escalated cases are posted"
    )

    api_public_url: str = Field(
        default="http://127.0.0.1:8000",
        alias="API_PUBLIC_URL",
        description="public base URL of the API (the handoff links the bot sends)",
    )
    cors_origins: list[str] = Field(
        default_factory=list, alias="CORS_ORIGINS", description="origins allowed by CORS (a JSON list; empty = no CORS)"
    )
    # lifetime of the bot's signed link to the web financing request (core/handoff.py)
    handoff_ttl_seconds: int = Field(
        default=72 * 3600,
        gt=0,
        alias="HANDOFF_TTL_SECONDS",
        description="lifetime of a handoff link, in seconds (72 h)",
    )
    # web API (api/): auth, abuse limits; seconds before the result page moves on to the form (seed 002 flow)
    jwt_expire_minutes: int = Field(
        default=60, gt=0, alias="ASESOR_JWT_EXPIRE_MINUTES", description="lifetime of an access token, in minutes"
    )
    # how long a worker trusts a user row it read for auth (a deactivation takes effect within this)
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        alias="ASESOR_AUTH_CACHE_SECONDS",
        description="how long a worker trusts a user row it read (a deactivation takes effect within this)",
    )
    handoff_rate_limit: str = Field(
        default="30/minute",
        alias="ASESOR_HANDOFF_RATE_LIMIT",
        description="requests per client address and handoff route",
    )
    api_max_body_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        alias="ASESOR_API_MAX_BODY_BYTES",
        description="largest request body accepted (413 above)",
    )
    handoff_redirect_seconds: int = Field(
        default=7,
        ge=0,
        alias="ASESOR_HANDOFF_REDIRECT_SECONDS",
        description="seconds before the result page moves on to the form (seed 002)",
    )
    # drift monitoring on /metrics (docs/analytics.md): applicants of the last N days, recomputed at most this often
    psi_window_days: int = Field(
        default=30,
        ge=1,
        le=3660,
        alias="ASESOR_PSI_WINDOW_DAYS",
        description="drift monitoring on /metrics: the applicants of the last N days",
    )
    psi_cache_seconds: float = Field(
        default=300.0,
        ge=0,
        alias="ASESOR_PSI_CACHE_SECONDS",
        description="drift monitoring on /metrics: recomputed at most this often, in seconds",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'asesor.sqlite3'}"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"


@lru_cache
def get_settings() -> Settings:
    return Settings()
