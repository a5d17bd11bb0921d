"""`asesor api …`: serve the web API, bootstrap users, print the OpenAPI schema or a handoff link."""

from __future__ import annotations

import getpass
import json
import os
import sys
from typing import Any

import typer

from cli.errors import fail
from core import copy_es as copy

app = typer.Typer(help=copy.API, no_args_is_help=True)


def _prompt_password() -> str:
    """Twice, hidden, in Spanish (click's confirmation prompt speaks English)."""
    for _ in range(3):
        first = getpass.getpass("Contraseña: ")
        if first and first == getpass.getpass("Repite la contraseña: "):
            return first
        sys.stderr.write("Las contraseñas no coinciden o están vacías; inténtalo de nuevo.\n")
    fail("password_mismatch", "Las contraseñas no coincidieron.", field="password")


@app.command(help=copy.API_SERVE)
def serve(
    host: str = typer.Option("127.0.0.1", help=copy.API_SERVE_HOST),
    port: int = typer.Option(8000, help=copy.API_SERVE_PORT),
    workers: int = typer.Option(1, min=1, help=copy.API_SERVE_WORKERS),
    migrate: bool = typer.Option(True, help=copy.API_SERVE_MIGRATE),
    log_level: str | None = typer.Option(None, "--log-level", help=copy.SERVICE_LOG_LEVEL),
    log_format: str | None = typer.Option(None, "--log-format", help=copy.SERVICE_LOG_FORMAT),
) -> None:
    """Run the API with uvicorn (the engine is loaded at start-up in each worker)."""
    import uvicorn

    from core.config import ensure_safe, load_settings

    settings = load_settings()
    # outside development: no public, missing, short or shared secret, and an encryption key (JSON error, exit 3)
    ensure_safe(settings, "api")
    from cli.logs import service_logging

    log_level, log_format = service_logging(settings, log_level, log_format)
    # each uvicorn worker sets its logging up again from these (api.main.app_from_env)
    os.environ["ASESOR_LOG_LEVEL"], os.environ["ASESOR_LOG_FORMAT"] = log_level, log_format
    if settings.prometheus_multiproc_dir is not None:
        # prometheus_client reads the variable itself when the workers import it: a value from .env must reach it
        settings.prometheus_multiproc_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.prometheus_multiproc_dir)
    # a data or model directory that cannot be made is configuration (cli.errors: exit 3 naming the variable),
    # said here: in uvicorn's lifespan it was a traceback in the log and "Application startup failed"
    for directory in (settings.data_dir, settings.resolved_model_dir):
        directory.mkdir(parents=True, exist_ok=True)
    _check_port(host, port)
    if migrate:
        from storage.db import migrate as run_migrations

        run_migrations()
    uvicorn.run(
        "api.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # X-Forwarded-For / -Proto are honoured by the app itself, only from ASESOR_TRUSTED_PROXIES (api/main.py);
        # uvicorn's own handling would trust any loopback peer (FORWARDED_ALLOW_IPS) whatever the settings say
        proxy_headers=False,
        log_level=log_level.lower(),
        log_config=None,  # uvicorn's lines go through core.logging's handler (format, redaction, request ids)
        access_log=False,  # paths carry handoff tokens: keep them out of access logs
    )


def _check_port(host: str, port: int) -> None:
    """A taken port is the caller's to change (exit 2, --port), said before the engine loads, not uvicorn's
    `[Errno 98]` log line and exit 1 after it."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail("invalid_host", f"No se puede escuchar en {host!r}: {exc}", field="--host")
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            message = f"No se puede escuchar en {host}:{port} ({exc.strerror}); usa otro --port."
            fail("port_in_use", message, field="--port")


@app.command("create-user", help=copy.API_CREATE_USER)
def create_user(
    username: str = typer.Argument(..., help=copy.API_CREATE_USER_USERNAME),
    role: str = typer.Option("admin", help=copy.API_CREATE_USER_ROLE),
    display_name: str | None = typer.Option(None, help=copy.API_CREATE_USER_DISPLAY_NAME),
    password_stdin: bool = typer.Option(False, help=copy.API_CREATE_USER_PASSWORD_STDIN),
) -> None:
    """Create a user. The password comes from stdin, ASESOR_NEW_USER_PASSWORD, or an interactive prompt."""
    from api.services import users
    from core.config import load_settings
    from storage.repositories import Storage

    settings = load_settings()
    password = _new_password(settings, password_stdin)
    storage = Storage.from_settings(settings)
    try:
        user = users.create_user(storage, username=username, password=password, role=role, display_name=display_name)
    except users.UserError as exc:
        fail("invalid_user", str(exc), field=exc.field)
    finally:
        storage.dispose()
    typer.echo(json.dumps({"id": user.id, "username": user.username, "role": user.role}))


@app.command("set-password", help=copy.API_SET_PASSWORD)
def set_password(
    username: str = typer.Argument(..., help=copy.API_SET_PASSWORD_USERNAME),
    password_stdin: bool = typer.Option(False, help=copy.API_SET_PASSWORD_STDIN),
) -> None:
    """Set a user's password (stdin, ASESOR_NEW_USER_PASSWORD or a prompt); every token issued before is revoked."""
    from api import revocations
    from api.services import users
    from core.config import load_settings
    from storage.repositories import Storage

    settings = load_settings()
    password = _new_password(settings, password_stdin)
    storage = Storage.from_settings(settings)
    try:
        user = storage.get_user_by_username(username.strip().lower())
        if user is None:
            fail("unknown_user", f"No existe el usuario {username!r}.", field="username")
        version = users.change_password(storage, user.id, password)
        revocations.publish(settings.redis_url, user.id)  # running API workers drop their cached row now
    except users.UserError as exc:
        fail("invalid_password", str(exc), field="password")
    finally:
        storage.dispose()
    typer.echo(json.dumps({"id": user.id, "username": user.username, "token_version": version, "revoked": True}))


def _new_password(settings: Any, password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if settings.new_user_password is not None and settings.new_user_password.get_secret_value():
        return str(settings.new_user_password.get_secret_value())
    if sys.stdin.isatty():
        return _prompt_password()
    fail(
        "missing_password",
        "Sin contraseña: pásala con --password-stdin o en ASESOR_NEW_USER_PASSWORD (o ejecuta en una terminal).",
        field="--password-stdin",
    )


@app.command(help=copy.API_OPENAPI)
def openapi() -> None:
    """Print the OpenAPI schema (JSON)."""
    from api.main import create_app

    typer.echo(json.dumps(create_app().openapi(), ensure_ascii=False, indent=2))


@app.command("handoff-url", help=copy.API_HANDOFF_URL)
def handoff_url_cmd(
    applicant_key: str = typer.Argument(..., help=copy.API_HANDOFF_URL_APPLICANT),
    assessment_id: str = typer.Argument(..., help=copy.API_HANDOFF_URL_ASSESSMENT),
) -> None:
    """Print a signed handoff link for a stored assessment (support and testing)."""
    from core.config import ensure_safe, load_settings
    from core.handoff import handoff_url

    settings = load_settings()
    ensure_safe(settings, "handoff")
    typer.echo(handoff_url(applicant_key, assessment_id, settings=settings))
