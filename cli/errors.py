"""How every `asesor` command fails: one JSON shape on stderr and one exit code per failure class.

    {"error": {"code": "missing_setting", "message": "…", "field": "BOT_TOKEN", …details}}

| exit | class | examples |
|---|---|---|
| 0 | success | |
| 1 | a check that failed (not an error): `policy simulate` found a broken invariant, `train psi --fail-on` a shift | |
| 2 | bad input: arguments, options, files or stdin the caller gave | unknown option, invalid JSON, bad CSV |
| 3 | configuration: the environment or a file it names is wrong | BOT_TOKEN missing or refused, bad ASESOR_POLICY |
| 4 | a dependency cannot be reached | PostgreSQL, Redis, the Telegram Bot API |
| 70 | unexpected error (a bug; sysexits' EX_SOFTWARE): the message says to rerun with `asesor --debug …` | |
| 130 | interrupted (Ctrl-C) | |

Commands raise `CliError` (or call `fail`); `AsesorGroup`, the root command's class, turns it, click's usage
errors and the expected dependency failures (`classify`) into that shape, and prints a traceback only with
`asesor --debug`. No traceback reaches the screen for an expected failure.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum
from typing import Any, NoReturn, cast

import typer
from typer._click import exceptions as click  # typer 0.29 vendors click: its exceptions, not the click package's
from typer.core import TyperGroup

from cli.help_es import localize, usage_message


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 70  # sysexits' EX_SOFTWARE: 1 is kept for a check that failed (an invariant, a PSI band)
    BAD_INPUT = 2
    CONFIG = 3
    UNAVAILABLE = 4
    INTERRUPTED = 130


class CliError(Exception):
    """An expected failure of a command: `code` is a stable snake_case name, `field` what is at fault (an option,
    a setting such as `BOT_TOKEN`, an input path such as `answers.enganche`); `details` go into the object too."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        exit_code: int = ExitCode.BAD_INPUT,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.exit_code, self.details = code, message, field, exit_code, details

    def to_dict(self) -> dict[str, Any]:
        return error_body(self.code, self.message, field=self.field, **self.details)


def error_body(code: str, message: str, *, field: str | None = None, **details: Any) -> dict[str, Any]:
    """The one error object: `{"error": {"code", "message", "field"?, …details}}`."""
    inner: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        inner["field"] = field
    inner.update({k: v for k, v in details.items() if v is not None})
    return {"error": inner}


def error_json(code: str, message: str, *, field: str | None = None, **details: Any) -> str:
    return json.dumps(error_body(code, message, field=field, **details), ensure_ascii=False, default=str)


def _redact(text: str) -> str:
    """The one redactor (core.redaction): a library's message may quote a URL with the bot token in it
    (https://…/bot<token>/getMe), a database error its URL's password. The settings' secrets are registered
    first when they can be read (an invalid setting is what some errors are about: then by shape only)."""
    from core.redaction import redact, register_secrets, secrets_of

    try:
        from core.config import get_settings

        register_secrets(secrets_of(get_settings()))
    except Exception:  # the error being reported may be the settings themselves
        pass
    return redact(text)


def emit(err: CliError) -> None:
    sys.stderr.write(_redact(json.dumps(err.to_dict(), ensure_ascii=False, default=str)) + "\n")
    sys.stderr.flush()


def fail(
    code: str, message: str, *, field: str | None = None, exit_code: int = ExitCode.BAD_INPUT, **details: Any
) -> NoReturn:
    """Write the error on stderr and leave with its exit code (works inside and outside a typer command)."""
    emit(CliError(code, message, field=field, exit_code=exit_code, **details))
    raise typer.Exit(exit_code)


def policy_error(exc: BaseException, field: str, exit_code: int) -> CliError:
    """engine.policy.PolicyError in Spanish (core.copy_es.policy_message): its `code` as `kind`, each problem's
    key, Spanish message and type in `problems`. The engine's English (str(exc)) is for logs, not the operator."""
    from core import copy_es as copy

    code = str(getattr(exc, "code", "invalid_values"))
    issues = list(getattr(exc, "issues", None) or [])
    path = getattr(exc, "path", "")
    return CliError(
        "invalid_policy",
        copy.policy_message(code, path, issues),
        field=field,
        exit_code=exit_code,
        kind=code,
        file=str(path),
        problems=copy.policy_problems(issues),
    )


def policy_failure(exc: Exception, option: str | None) -> NoReturn:
    """An invalid policy file: bad input when the caller passed it (`option`), configuration when ASESOR_POLICY
    (or the shipped file) named it."""
    err = (
        policy_error(exc, option, ExitCode.BAD_INPUT) if option else policy_error(exc, "ASESOR_POLICY", ExitCode.CONFIG)
    )
    emit(err)
    raise typer.Exit(err.exit_code)


def model_unavailable_error(exc: BaseException) -> CliError:
    """engine.pd.registry.ModelUnavailable in Spanish: the model, its version and why (core.copy_es)."""
    from core import copy_es as copy

    name = getattr(exc, "name", "applicant")
    what = " ".join(str(p) for p in (getattr(exc, "name", ""), getattr(exc, "version", None)) if p)
    reason = copy.model_reason(str(getattr(exc, "kind", "")), dict(getattr(exc, "ctx", None) or {}))
    return CliError(
        "model_unavailable",
        copy.MODEL_UNAVAILABLE.format(what=what, reason=reason, name=name),
        field="ASESOR_MODEL_DIR",
        exit_code=ExitCode.CONFIG,
        model=name,
        version=getattr(exc, "version", None),
        model_dir=str(getattr(exc, "model_dir", "")),
        kind=getattr(exc, "kind", None),
    )


def registry_failure(exc: BaseException, *, field: str | None = None) -> NoReturn:
    """engine.pd.registry.RegistryError (an unknown model name or version, an unreadable artifact) in Spanish."""
    from core import copy_es as copy

    code = str(getattr(exc, "code", ""))
    ctx = dict(getattr(exc, "ctx", None) or {})
    fail("model_not_found", copy.registry_message(code, ctx), field=field, kind=code, **ctx)


# ------------------------------------------------------------------------------------------ classification
def _subclass_of(exc: BaseException, module: str, names: tuple[str, ...]) -> bool:
    """isinstance by (module, class name) over the MRO: no library is imported to classify an error."""
    return any(c.__module__.startswith(module) and c.__name__ in names for c in type(exc).__mro__)


def classify(exc: BaseException) -> CliError | None:
    """The CliError an expected failure stands for, or None for a bug."""
    if isinstance(exc, CliError):
        return exc
    name = type(exc).__name__
    if _subclass_of(exc, "aiogram", ("TelegramUnauthorizedError",)) or _subclass_of(exc, "telegram", ("InvalidToken",)):
        return CliError(
            "invalid_setting",
            "Telegram rechazó BOT_TOKEN (no autorizado): copia de nuevo el token que da @BotFather.",
            field="BOT_TOKEN",
            exit_code=ExitCode.CONFIG,
        )
    if _subclass_of(exc, "aiogram", ("TelegramNetworkError", "TelegramServerError", "RestartingTelegram")) or (
        _subclass_of(exc, "telegram", ("NetworkError", "TimedOut"))
    ):
        return CliError(
            "telegram_unavailable",
            f"No se pudo contactar la API de bots de Telegram ({name}: {exc}). Revisa la red o TELEGRAM_API_URL.",
            field="TELEGRAM_API_URL",
            exit_code=ExitCode.UNAVAILABLE,
        )
    if _subclass_of(exc, "redis", ("ConnectionError", "TimeoutError")):
        return CliError(
            "redis_unavailable",
            f"No hay Redis disponible ({name}: {exc}). Revisa REDIS_URL (el Redis propio del repositorio: "
            "`bash scripts/services.sh start redis`, y su URL con `bash scripts/services.sh url redis`).",
            field="REDIS_URL",
            exit_code=ExitCode.UNAVAILABLE,
        )
    if _subclass_of(exc, "sqlalchemy", ("OperationalError", "InterfaceError")) or _subclass_of(
        exc, "psycopg", ("OperationalError",)
    ):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return CliError(
            "database_unavailable",
            f"No se pudo usar la base de datos ({reason}). Revisa DATABASE_URL.",
            field="DATABASE_URL",
            exit_code=ExitCode.UNAVAILABLE,
        )
    if _subclass_of(exc, "engine.policy", ("PolicyError",)):
        return policy_error(exc, "ASESOR_POLICY", ExitCode.CONFIG)
    if _subclass_of(exc, "engine.pd", ("ModelUnavailable",)):
        return model_unavailable_error(exc)
    if isinstance(exc, OSError) and getattr(exc, "filename", None) and (variable := _directory_setting(exc)):
        where, path = variable
        return CliError(
            "unusable_directory",
            f"{where} ({path}) no se puede usar: {exc.strerror or type(exc).__name__} ({exc.filename}). Indica un "
            "directorio que exista o se pueda crear, con permiso de escritura.",
            field=where,
            exit_code=ExitCode.CONFIG,
        )
    if _subclass_of(exc, "pydantic", ("ValidationError",)) and "Settings" in str(getattr(exc, "title", "")):
        # the error of core.config.load_settings (`asesor api serve`, `asesor bot`), for every command alike
        from core.config import settings_error_json  # loaded already: Settings raised this

        body = dict(settings_error_json(cast(Any, exc))["error"])
        code, message, field = body.pop("code"), body.pop("message"), body.pop("field", None)
        return CliError(code, message, field=field, exit_code=ExitCode.CONFIG, **body)
    return None


def _directory_setting(exc: OSError) -> tuple[str, str] | None:
    """(variable, its directory) when the file `exc` names is the data or model directory of the settings, or
    inside it: a setting that points somewhere unusable (a file, a place that cannot be created or written) is
    configuration (exit 3), not a bug (it was exit 70, NotADirectoryError / FileNotFoundError)."""
    from pathlib import Path

    try:
        from core.config import get_settings

        settings = get_settings()
    except Exception:  # the settings themselves are what failed: not this error's business
        return None
    path = Path(str(exc.filename)).absolute()
    candidates = [("ASESOR_MODEL_DIR", settings.model_dir), ("ASESOR_DATA_DIR", settings.data_dir)]
    for variable, directory in candidates:
        if directory is not None:
            base = Path(directory).expanduser().absolute()
            if path == base or base in path.parents:
                return variable, str(directory)
    return None


def _usage_error(exc: click.UsageError) -> CliError:
    field = None
    param = getattr(exc, "param", None)
    if param is not None:
        field = (param.opts or [param.name])[0] if getattr(param, "opts", None) else param.name
    elif isinstance(hint := getattr(exc, "param_hint", None), str):
        field = hint
    elif option := getattr(exc, "option_name", None):
        field = option
    hint = f"{exc.ctx.command_path} --help" if exc.ctx is not None else None
    return CliError("usage_error", usage_message(exc), field=field, exit_code=ExitCode.BAD_INPUT, help=hint)


def report(exc: BaseException, *, debug: bool = False) -> int:
    """Write what went wrong (JSON on stderr) and return the exit code. Used by the root command and by the
    processes a command spawns (`asesor bot --workers`), whose exceptions would otherwise print tracebacks."""
    if isinstance(exc, click.NoArgsIsHelpError):
        exc.show()  # no sub-command given: the help is the answer
        return ExitCode.BAD_INPUT
    if isinstance(exc, click.UsageError):
        err = _usage_error(exc)
    elif isinstance(exc, KeyboardInterrupt | typer.Abort):
        err = CliError("interrupted", "Interrumpido.", exit_code=ExitCode.INTERRUPTED)
    else:
        err = classify(exc) or CliError(
            "internal_error",
            f"Error inesperado ({type(exc).__name__}: {exc}). Repite con `asesor --debug …` para ver el detalle.",
            exit_code=ExitCode.INTERNAL,
        )
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    emit(err)
    return int(err.exit_code)


class _State:
    debug = False


state = _State()


class AsesorGroup(TyperGroup):
    """The root `asesor` command: runs click in non-standalone mode and reports every failure with `report`."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        localize(self)
        try:
            rv = super().main(
                args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
            code = rv if isinstance(rv, int) else 0
        except typer.Exit as exc:
            code = exc.exit_code
        except SystemExit as exc:  # a library calling sys.exit (uvicorn on a port in use) keeps its code
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except (Exception, KeyboardInterrupt) as exc:  # every failure ends as one JSON error, never a traceback
            code = report(exc, debug=state.debug)
        if standalone_mode:
            sys.exit(code)
        return code
