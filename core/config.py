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
    data_dir: Path = Field(default=REPO_ROOT / "var", alias="ASESOR_DATA_DIR")
    # policy file; None = the one shipped in engine/policy/
    policy_file: Path | None = Field(default=None, alias="ASESOR_POLICY")
    # model artifacts; None = <data_dir>/models
    model_dir: Path | None = Field(default=None, alias="ASESOR_MODEL_DIR")

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")

    # keyed hash of Telegram ids (pseudonymous user keys) and encryption of personal data at rest
    pseudonym_key: SecretStr = Field(default=SecretStr("dev-only-pseudonym-key"), alias="ASESOR_PSEUDONYM_KEY")
    fernet_key: SecretStr | None = Field(default=None, alias="ASESOR_FERNET_KEY")
    # signing of handoff links and JWTs
    secret_key: SecretStr = Field(default=SecretStr("dev-only-secret-key-change-me"), alias="ASESOR_SECRET_KEY")

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN")
    bot_mode: str = Field(default="polling", alias="BOT_MODE")  # polling | webhook
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    webhook_url: str | None = Field(default=None, alias="WEBHOOK_URL")
    advisors_chat_id: int | None = Field(default=None, alias="ADVISORS_CHAT_ID")

    api_public_url: str = Field(default="http://127.0.0.1:8000", alias="API_PUBLIC_URL")
    cors_origins: list[str] = Field(default_factory=list, alias="CORS_ORIGINS")
    # lifetime of the bot's signed link to the web financing request (core/handoff.py)
    handoff_ttl_seconds: int = Field(default=72 * 3600, gt=0, alias="HANDOFF_TTL_SECONDS")
    # web API (api/): auth, abuse limits; seconds before the result page moves on to the form (seed 002 flow)
    jwt_expire_minutes: int = Field(default=60, gt=0, alias="ASESOR_JWT_EXPIRE_MINUTES")
    # how long a worker trusts a user row it read for auth (a deactivation takes effect within this)
    auth_cache_seconds: float = Field(default=5.0, ge=0, alias="ASESOR_AUTH_CACHE_SECONDS")
    handoff_rate_limit: str = Field(default="30/minute", alias="ASESOR_HANDOFF_RATE_LIMIT")
    api_max_body_bytes: int = Field(default=64 * 1024, gt=0, alias="ASESOR_API_MAX_BODY_BYTES")
    handoff_redirect_seconds: int = Field(default=7, ge=0, alias="ASESOR_HANDOFF_REDIRECT_SECONDS")
    # drift monitoring on /metrics (docs/analytics.md): applicants of the last N days, recomputed at most this often
    psi_window_days: int = Field(default=30, ge=1, le=3660, alias="ASESOR_PSI_WINDOW_DAYS")
    psi_cache_seconds: float = Field(default=300.0, ge=0, alias="ASESOR_PSI_CACHE_SECONDS")

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
