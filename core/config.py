"""The one settings object of the adapters (bot, API, CLI, storage): every environment variable they read.

Values come from the environment or a `.env` file in the working directory (the environment wins). The engine
never reads these: it gets a policy and a model handed to it. Each field carries an English `description` and
a Spanish one (`json_schema_extra["description_es"]`), from which the README's configuration table is made.

`ASESOR_ENV` decides how strict start-up is: in `development` (the default) the secrets have public
development values so a clone runs at once; in `staging` and `production` the API, the bot and the workers
refuse to start (`require_safe`, exit code 3) while any secret they use is missing, a development value, too
short, shared with another secret, or while personal data would have no encryption key. Each secret protects
one thing, so a leak of one does not yield the others; each signing key has a `…_PREVIOUS` companion that is
still accepted for verification while new tokens use the new key (rotation: docs/security.md).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

Environment = Literal["development", "staging", "production"]
BotMode = Literal["polling", "webhook"]
LogFormat = Literal["auto", "json", "console"]
Component = Literal["api", "bot", "handoff"]

# process exit code of a refused configuration (the API, the bot, the CLI): documented in docs/security.md
EXIT_CONFIG = 3
# shortest secret accepted outside development: 32 characters (e.g. `openssl rand -base64 32` gives 44)
MIN_SECRET_LENGTH = 32

# The public development values. Anyone can read them here, so outside development they are refused.
DEV_JWT_SECRET = "dev-only-jwt-secret"
DEV_HANDOFF_SECRET = "dev-only-handoff-secret"
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"
DEV_CHAT_SECRET = "dev-only-chat-secret"
DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key"
# the single key of earlier versions (it signed JWTs, handoff links and the webhook secret)
LEGACY_DEV_SECRET_KEY = "dev-only-secret-key-change-me"
DEV_SECRETS = frozenset(
    {DEV_JWT_SECRET, DEV_HANDOFF_SECRET, DEV_WEBHOOK_SECRET, DEV_CHAT_SECRET, DEV_PSEUDONYM_KEY, LEGACY_DEV_SECRET_KEY}
)


def _field(default: Any = None, *, alias: str, en: str, es: str, **kwargs: Any) -> Any:
    """A settings field with its variable name and both descriptions (README table, `asesor` help)."""
    if "default_factory" not in kwargs:
        kwargs["default"] = default
    return Field(alias=alias, description=en, json_schema_extra={"description_es": es}, **kwargs)


def _csv(value: Any) -> Any:
    # "a, b" or a JSON list; an empty string is an empty list
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=False, validate_default=True
    )

    env: Environment = _field(
        "development",
        alias="ASESOR_ENV",
        en="`development`, `staging` or `production`; outside development unsafe secrets stop the start (exit 3)",
        es="`development`, `staging` o `production`; fuera de desarrollo un secreto inseguro impide arrancar (3)",
    )

    # ------------------------------------------------------------------------------------- paths and data
    data_dir: Path = _field(
        REPO_ROOT / "var",
        alias="ASESOR_DATA_DIR",
        en="local state: SQLite file, model artifacts, event spool, reports",
        es="estado local: archivo SQLite, modelos, cola de eventos en disco, reportes",
    )
    policy_file: Path | None = _field(
        alias="ASESOR_POLICY",
        en="policy file in service (default: the shipped `engine/policy/default.toml`)",
        es="archivo de política en servicio (por omisión, `engine/policy/default.toml`)",
    )
    model_dir: Path | None = _field(
        alias="ASESOR_MODEL_DIR",
        en="model artifacts (default: `<ASESOR_DATA_DIR>/models`)",
        es="artefactos del modelo (por omisión, `<ASESOR_DATA_DIR>/models`)",
    )
    model_watch_seconds: float = _field(
        1.0,
        alias="ASESOR_MODEL_WATCH_SECONDS",
        ge=0,
        en="how often API and bot workers look for a promoted model (`current`), in seconds; 0 = never",
        es="cada cuántos segundos los procesos de la API y del bot buscan un modelo promovido (`current`); 0 = nunca",
    )
    shared_data_dir: Path | None = _field(
        alias="ASESOR_SHARED_DATA",
        en="training data sets (default: `../shared/data` beside the repository)",
        es="datos de entrenamiento (por omisión, `../shared/data` junto al repositorio)",
    )
    database_url: str | None = _field(
        alias="DATABASE_URL",
        en="SQLAlchemy URL, e.g. `postgresql+psycopg://user:pass@host/db` (default: SQLite under the data dir)",
        es="URL de SQLAlchemy, p. ej. `postgresql+psycopg://usuario:clave@host/bd` (por omisión, SQLite local)",
    )
    redis_url: str | None = _field(
        alias="REDIS_URL",
        en="Redis: dialog state, idempotency, event outbox, rate-limit and login counters",
        es="Redis: estado del diálogo, idempotencia, cola de eventos, límites y contadores de inicio de sesión",
    )

    # ------------------------------------------------------------------------------------------- secrets
    jwt_secret: SecretStr = _field(
        SecretStr(DEV_JWT_SECRET),
        alias="ASESOR_JWT_SECRET",
        en="signs the API's access tokens (JWT); at least 32 characters outside development",
        es="firma los tokens de acceso de la API (JWT); 32 caracteres o más fuera de desarrollo",
    )
    jwt_secret_previous: SecretStr | None = _field(
        alias="ASESOR_JWT_SECRET_PREVIOUS",
        en="the replaced JWT secret, still accepted for verification during a rotation",
        es="el secreto JWT anterior, aún aceptado al verificar mientras se rota",
    )
    handoff_secret: SecretStr = _field(
        SecretStr(DEV_HANDOFF_SECRET),
        alias="ASESOR_HANDOFF_SECRET",
        en="signs the bot's links to the web financing request; at least 32 characters outside development",
        es="firma los enlaces del bot a la solicitud web; 32 caracteres o más fuera de desarrollo",
    )
    handoff_secret_previous: SecretStr | None = _field(
        alias="ASESOR_HANDOFF_SECRET_PREVIOUS",
        en="the replaced handoff secret, still accepted for verification during a rotation",
        es="el secreto de enlaces anterior, aún aceptado al verificar mientras se rota",
    )
    webhook_secret: SecretStr = _field(
        SecretStr(DEV_WEBHOOK_SECRET),
        alias="ASESOR_WEBHOOK_SECRET",
        en="key of the secret Telegram echoes on webhook calls; at least 32 characters outside development",
        es="clave del secreto que Telegram repite en cada llamada al webhook; 32 caracteres o más fuera de desarrollo",
    )
    webhook_secret_previous: SecretStr | None = _field(
        alias="ASESOR_WEBHOOK_SECRET_PREVIOUS",
        en="the replaced webhook key, still accepted while Telegram switches over",
        es="la clave de webhook anterior, aún aceptada mientras Telegram cambia a la nueva",
    )
    chat_secret: SecretStr = _field(
        SecretStr(DEV_CHAT_SECRET),
        alias="ASESOR_CHAT_SECRET",
        en="signs the web chat's session cookie; at least 32 characters outside development",
        es="firma la cookie de sesión del chat web; 32 caracteres o más fuera de desarrollo",
    )
    chat_secret_previous: SecretStr | None = _field(
        alias="ASESOR_CHAT_SECRET_PREVIOUS",
        en="the replaced web chat secret, still accepted for verification during a rotation",
        es="el secreto anterior del chat web, aún aceptado al verificar mientras se rota",
    )
    pseudonym_key: SecretStr = _field(
        SecretStr(DEV_PSEUDONYM_KEY),
        alias="ASESOR_PSEUDONYM_KEY",
        en="keyed hash of Telegram ids (pseudonymous applicant keys); fixed for the life of the data",
        es="hash con clave de los ids de Telegram (claves seudónimas); fija mientras existan los datos",
    )
    fernet_key: SecretStr | None = _field(
        alias="ASESOR_FERNET_KEY",
        en="Fernet key(s) encrypting personal data, comma-separated: the first encrypts, all decrypt",
        es="clave(s) Fernet que cifran los datos personales, separadas por comas: la primera cifra, todas descifran",
    )
    legacy_secret_key: SecretStr | None = _field(
        alias="ASESOR_SECRET_KEY",
        en="no longer used (replaced by the JWT, handoff and webhook secrets); named in the start-up refusal",
        es="ya no se usa (lo reemplazan los secretos JWT, de enlaces y de webhook); se nombra al rechazar el arranque",
    )

    # ---------------------------------------------------------------------------------------------- bot
    bot_token: SecretStr | None = _field(
        alias="BOT_TOKEN",
        en="the bot's token from @BotFather",
        es="el token del bot que da @BotFather",
    )
    bot_mode: BotMode = _field(
        "polling",
        alias="BOT_MODE",
        en="`polling` (local) or `webhook` (production)",
        es="`polling` (local) o `webhook` (producción)",
    )
    telegram_api_url: str = _field(
        "https://api.telegram.org",
        alias="TELEGRAM_API_URL",
        en="base URL of the Bot API (a self-hosted `telegram-bot-api` or the tests' fake server)",
        es="URL base de la Bot API (un `telegram-bot-api` propio o el servidor falso de las pruebas)",
    )
    webhook_url: str | None = _field(
        alias="WEBHOOK_URL",
        en="public https URL Telegram calls in webhook mode",
        es="URL pública https que Telegram llama en modo webhook",
    )
    advisors_chat_id: int | None = _field(
        alias="ADVISORS_CHAT_ID",
        en="Telegram chat (or forum) where escalated cases are posted",
        es="chat (o foro) de Telegram donde se publican los casos escalados",
    )

    # ---------------------------------------------------------------------------------------------- API
    api_public_url: str = _field(
        "http://127.0.0.1:8000",
        alias="API_PUBLIC_URL",
        en="public base URL of the API (handoff links; https required outside development)",
        es="URL pública base de la API (enlaces de solicitud; https obligatorio fuera de desarrollo)",
    )
    cors_origins: Annotated[list[str], NoDecode] = _field(
        alias="CORS_ORIGINS",
        default_factory=list,
        en="origins allowed by CORS (comma-separated or a JSON list; empty = no CORS)",
        es="orígenes admitidos por CORS (separados por comas o lista JSON; vacío = sin CORS)",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = _field(
        alias="ASESOR_TRUSTED_PROXIES",
        default_factory=list,
        en="addresses or networks (or `*`) of reverse proxies whose X-Forwarded-For/-Proto is honoured (empty = none)",
        es="direcciones o redes (o `*`) de los proxies cuyo X-Forwarded-For/-Proto se respeta (vacío = ninguno)",
    )
    handoff_ttl_seconds: int = _field(
        72 * 3600,
        alias="HANDOFF_TTL_SECONDS",
        gt=0,
        en="lifetime of a handoff link, in seconds (72 h)",
        es="vigencia de un enlace de solicitud, en segundos (72 h)",
    )
    jwt_expire_minutes: int = _field(
        60,
        alias="ASESOR_JWT_EXPIRE_MINUTES",
        gt=0,
        en="lifetime of an access token, in minutes",
        es="vigencia de un token de acceso, en minutos",
    )
    auth_cache_seconds: float = _field(
        5.0,
        alias="ASESOR_AUTH_CACHE_SECONDS",
        ge=0,
        en="how long a worker trusts a user row it read (deactivation applies within it; logout at once via Redis)",
        es="cuánto confía un proceso en la fila de usuario leída (una baja rige en ese plazo; cerrar sesión, ya)",
    )
    handoff_rate_limit: str = _field(
        "30/minute",
        alias="ASESOR_HANDOFF_RATE_LIMIT",
        en="requests per client address and handoff route",
        es="solicitudes por dirección de cliente y ruta de solicitud",
    )
    login_rate_limit: str = _field(
        "10/minute",
        alias="ASESOR_LOGIN_RATE_LIMIT",
        en="login attempts per client address (token and page together)",
        es="intentos de inicio de sesión por dirección de cliente (token y página juntos)",
    )
    login_max_failures: int = _field(
        5,
        alias="ASESOR_LOGIN_MAX_FAILURES",
        gt=0,
        en="failed logins of one account (known or not) before it must wait (429 with Retry-After)",
        es="intentos fallidos de una cuenta (exista o no) antes de que deba esperar (429 con Retry-After)",
    )
    login_backoff_seconds: int = _field(
        30,
        alias="ASESOR_LOGIN_BACKOFF_SECONDS",
        gt=0,
        en="first wait of an account after those failures; each further failure doubles it",
        es="primera espera de una cuenta tras esos intentos; cada intento fallido más la duplica",
    )
    login_backoff_max_seconds: int = _field(
        900,
        alias="ASESOR_LOGIN_BACKOFF_MAX_SECONDS",
        gt=0,
        en="longest wait of an account (15 min); a successful login clears the count",
        es="espera más larga de una cuenta (15 min); un inicio de sesión correcto borra la cuenta de intentos",
    )
    api_max_body_bytes: int = _field(
        64 * 1024,
        alias="ASESOR_API_MAX_BODY_BYTES",
        gt=0,
        en="largest request body accepted (413 above)",
        es="cuerpo de solicitud más grande aceptado (413 si lo supera)",
    )
    handoff_redirect_seconds: int = _field(
        7,
        alias="ASESOR_HANDOFF_REDIRECT_SECONDS",
        ge=0,
        en="seconds before the result page moves on to the form (seed 002)",
        es="segundos antes de que la página de resultado pase al formulario (semilla 002)",
    )
    # drift monitoring on /metrics (docs/analytics.md)
    psi_window_days: int = _field(
        30,
        alias="ASESOR_PSI_WINDOW_DAYS",
        ge=1,
        le=3660,
        en="PSI drift on /metrics: applicants of the last N days",
        es="deriva PSI en /metrics: solicitantes de los últimos N días",
    )
    psi_cache_seconds: float = _field(
        300.0,
        alias="ASESOR_PSI_CACHE_SECONDS",
        ge=0,
        en="PSI drift is recomputed at most this often (seconds)",
        es="la deriva PSI se recalcula como mucho con esta frecuencia (segundos)",
    )
    prometheus_multiproc_dir: Path | None = _field(
        alias="PROMETHEUS_MULTIPROC_DIR",
        en="empty directory shared by the API workers so /metrics adds them all up",
        es="directorio vacío compartido por los procesos de la API para que /metrics los sume",
    )
    new_user_password: SecretStr | None = _field(
        alias="ASESOR_NEW_USER_PASSWORD",
        en="password of `asesor api create-user` when not read from stdin",
        es="contraseña de `asesor api create-user` cuando no se lee de stdin",
    )

    # ------------------------------------------------------------------------------------------ logging
    log_level: str = _field(
        "INFO",
        alias="ASESOR_LOG_LEVEL",
        en="log level (DEBUG, INFO, WARNING, ERROR)",
        es="nivel de registro (DEBUG, INFO, WARNING, ERROR)",
    )
    log_format: LogFormat = _field(
        "auto",
        alias="ASESOR_LOG_FORMAT",
        en="`json` (one object per line, for shipping), `console` (readable) or `auto` (console on a terminal)",
        es="`json` (un objeto por línea, para enviar), `console` (legible) o `auto` (console en una terminal)",
    )

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            if item != "*":
                ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("usa DEBUG, INFO, WARNING, ERROR o CRITICAL")
        return level

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'asesor.sqlite3'}"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    def load_policy(self) -> Any:
        """The policy in service: ASESOR_POLICY, else the shipped one (engine.policy; PolicyError when invalid)."""
        from engine.policy import default_policy, load_policy

        return load_policy(self.policy_file) if self.policy_file else default_policy()

    @property
    def resolved_shared_data_dir(self) -> Path:
        return (self.shared_data_dir or REPO_ROOT.parent / "shared" / "data").expanduser()

    def signing_keys(self, name: Literal["jwt", "handoff", "webhook", "chat"]) -> list[str]:
        """The current key first, then the previous one if a rotation is under way."""
        current: SecretStr = getattr(self, f"{name}_secret")
        previous: SecretStr | None = getattr(self, f"{name}_secret_previous")
        keys = [current.get_secret_value()]
        if previous is not None and previous.get_secret_value() and previous.get_secret_value() not in keys:
            keys.append(previous.get_secret_value())
        return keys

    def fernet_keys(self) -> str | None:
        return self.fernet_key.get_secret_value() if self.fernet_key is not None else None


@lru_cache
def get_settings() -> Settings:
    return Settings()


# ------------------------------------------------------------------------------------ start-up refusal
@dataclass(frozen=True, slots=True)
class SettingProblem:
    setting: str  # the environment variable at fault
    message: str  # Spanish, for the operator


class UnsafeSettings(Exception):
    """The configuration must not run in this environment; `problems` names each variable at fault."""

    def __init__(self, env: str, problems: list[SettingProblem]) -> None:
        super().__init__("; ".join(f"{p.setting}: {p.message}" for p in problems))
        self.env, self.problems = env, problems

    def to_json(self) -> dict[str, Any]:
        """The CLI's one error shape (cli/errors.py): `{"error": {"code", "message", "field", …}}`."""
        names = ", ".join(dict.fromkeys(p.setting for p in self.problems))
        return error_body(
            "unsafe_settings",
            f"ASESOR_ENV={self.env}: la configuración no es segura; corrige {names} y vuelve a arrancar.",
            field=self.problems[0].setting,
            env=self.env,
            problems=[{"field": p.setting, "message": p.message} for p in self.problems],
        )


def error_body(code: str, message: str, *, field: str | None = None, **details: Any) -> dict[str, Any]:
    """`{"error": {"code", "message", "field"?, …details}}`, the shape of cli/errors.py, for the processes that
    refuse to start outside the CLI too (a uvicorn worker)."""
    inner: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        inner["field"] = field
    inner.update(details)
    return {"error": inner}


_GENERATE = "genera uno con `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
_GENERATE_FERNET = (
    "genera una con `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
)
_SECRETS_OF: dict[Component, tuple[str, ...]] = {
    # least privilege: the bot never issues API tokens nor the API webhook secrets; the API keeps the pseudonym
    # key, since the conversation service it hosts (the web chat) keys applicants with it
    "api": ("jwt_secret", "handoff_secret", "chat_secret", "pseudonym_key"),
    "bot": ("handoff_secret", "pseudonym_key"),
    "handoff": ("handoff_secret",),
}
_ALL_SECRETS = ("jwt_secret", "handoff_secret", "webhook_secret", "chat_secret", "pseudonym_key")
_PREVIOUS = ("jwt_secret_previous", "handoff_secret_previous", "webhook_secret_previous", "chat_secret_previous")


def _alias(name: str) -> str:
    return str(Settings.model_fields[name].alias)


def _secret_value(settings: Settings, name: str) -> str | None:
    value: SecretStr | None = getattr(settings, name)
    return value.get_secret_value() if value is not None else None


def _weak(value: str) -> str | None:
    if value in DEV_SECRETS:
        return "es el valor público de desarrollo"
    if len(value) < MIN_SECRET_LENGTH:
        return f"es demasiado corto ({len(value)} caracteres; mínimo {MIN_SECRET_LENGTH})"
    if len(set(value)) < 8:
        return "tiene muy pocos caracteres distintos"
    return None


def unsafe_settings(
    settings: Settings, component: Component, *, webhook: bool = False, cipher_ready: bool | None = None
) -> list[SettingProblem]:
    """What stops `component` from starting with these settings (empty: it may start).

    `cipher_ready`: whether the storage in use could build its cipher (an adapter handed a storage of its own
    says so); by default it is judged from the settings: without ASESOR_FERNET_KEY only a development SQLite
    file may generate a local key (storage.privacy), so a server database without one is refused at start
    instead of failing on the first read of personal data."""
    problems: list[SettingProblem] = []
    if component in ("api", "bot"):
        if settings.fernet_key is not None:
            problems += _fernet_problems(settings.fernet_key.get_secret_value())
        elif not settings.is_development:
            problems.append(
                SettingProblem(
                    "ASESOR_FERNET_KEY",
                    f"falta: fuera de desarrollo los datos personales no se guardan sin cifrar; {_GENERATE_FERNET}",
                )
            )
        elif cipher_ready is False or (
            cipher_ready is None and not settings.resolved_database_url.startswith("sqlite")
        ):
            problems.append(
                SettingProblem(
                    "ASESOR_FERNET_KEY",
                    "falta: con una base de datos de servidor los datos personales necesitan una clave; "
                    + _GENERATE_FERNET,
                )
            )
    if settings.is_development:
        return problems

    names = list(_SECRETS_OF[component]) + (["webhook_secret"] if webhook else [])
    legacy = " (ASESOR_SECRET_KEY ya no se usa: cada secreto tiene su variable)" if settings.legacy_secret_key else ""
    for name in names:
        value = _secret_value(settings, name) or ""
        reason = "falta" if not value.strip() or name not in settings.model_fields_set else _weak(value)
        if reason:
            problems.append(SettingProblem(_alias(name), f"{reason}{legacy}; {_GENERATE}"))
    for name in _PREVIOUS:
        previous = _secret_value(settings, name)
        if previous and _weak(previous) and name.removesuffix("_previous") in names:
            problems.append(SettingProblem(_alias(name), f"{_weak(previous)}; {_GENERATE}"))
    # one secret per purpose: the same value twice would let one leak open both doors
    seen: dict[str, str] = {}
    for name in (*_ALL_SECRETS, *_PREVIOUS):
        secret = _secret_value(settings, name)
        if not secret or secret in DEV_SECRETS:
            continue
        if secret in seen:
            problems.append(
                SettingProblem(_alias(name), f"es igual a {seen[secret]}: cada secreto debe ser distinto de los demás")
            )
        else:
            seen[secret] = _alias(name)
    if component in ("api", "bot") and not settings.api_public_url.startswith("https://"):
        problems.append(
            SettingProblem(
                "API_PUBLIC_URL", "debe empezar con https:// fuera de desarrollo (los enlaces llevan un token)"
            )
        )
    return problems


def _fernet_problems(keys: str) -> list[SettingProblem]:
    from cryptography.fernet import Fernet

    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        return [SettingProblem("ASESOR_FERNET_KEY", f"está vacía; {_GENERATE_FERNET}")]
    for i, key in enumerate(parts, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            message = f"la clave {i} no es una clave Fernet válida; {_GENERATE_FERNET}"
            return [SettingProblem("ASESOR_FERNET_KEY", message)]
    return []


def require_safe(
    settings: Settings, component: Component, *, webhook: bool = False, cipher_ready: bool | None = None
) -> None:
    """Raise UnsafeSettings when `component` must not start with these settings."""
    problems = unsafe_settings(settings, component, webhook=webhook, cipher_ready=cipher_ready)
    if problems:
        raise UnsafeSettings(settings.env, problems)


def exit_refused(payload: dict[str, Any]) -> None:
    """Print a configuration error as one JSON line on stderr and end the process with EXIT_CONFIG."""
    print(json.dumps(payload, ensure_ascii=False), file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CONFIG)


def settings_error_json(exc: ValidationError) -> dict[str, Any]:
    """A pydantic error of Settings() as a JSON error naming the environment variable (not the field)."""
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else ""
        info = Settings.model_fields.get(name)
        setting = str(info.alias) if info is not None and info.alias else name or "(configuración)"
        problems.append({"field": setting, "message": str(err.get("msg", "valor inválido"))})
    names = ", ".join(dict.fromkeys(p["field"] for p in problems))
    return error_body(
        "invalid_setting",
        f"Configuración inválida: revisa {names}.",
        field=problems[0]["field"] if problems else None,
        problems=problems,
    )


def load_settings() -> Settings:
    """`get_settings()` for entry points: an invalid variable is a JSON error and exit 3, not a traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        exit_refused(settings_error_json(exc))
        raise  # unreachable: exit_refused raises SystemExit


def ensure_safe(settings: Settings, component: Component, *, webhook: bool = False) -> None:
    """`require_safe` for entry points: the refusal is a JSON error on stderr and exit 3."""
    try:
        require_safe(settings, component, webhook=webhook)
    except UnsafeSettings as exc:
        exit_refused(exc.to_json())
