"""`asesor`'s help screens and usage errors in Spanish, with the words of core.copy_es.

typer and click write their own stock words ("Usage:", "Options", "Show this message and exit.", "No such
option"); `localize(root)` gives every command of the tree Spanish ones before the command line is parsed, and
`usage_message(exc)` says a usage error in Spanish. typer's panel titles are module-level settings of
`typer.rich_utils` (its documented customisation point); the rest is set on our own command objects.
"""

from __future__ import annotations

import re
from typing import Any

from typer import rich_utils
from typer._click import exceptions as click  # typer 0.29 vendors click
from typer._click.core import Command, Context
from typer._click.formatting import HelpFormatter
from typer.core import TyperGroup, TyperOption

from core import copy_es as copy

HELP_OPTION_NAMES = ["--help", "-h"]
_COMPLETION_HELP = {"install_completion": copy.INSTALL_COMPLETION, "show_completion": copy.SHOW_COMPLETION}
_PARAM_KINDS = {"option": "la opción", "argument": "el argumento", "parameter": "el parámetro"}
_EXTRA_ARGS = re.compile(r"Got unexpected extra argument\(s\) \((?P<args>.*)\)")
_NOT_ONE_OF = re.compile(r"(?P<value>'.*') is not one of (?P<choices>.*)\.$")
_NO_SUCH_COMMAND = re.compile(r"No such command (?P<name>.+)\.")


class _SpanishFormatter(HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, copy.USAGE_PREFIX if prefix is None else prefix)


class _SpanishContext(Context):
    formatter_class = _SpanishFormatter


def _panel_words() -> None:
    rich_utils.ARGUMENTS_PANEL_TITLE = copy.PANEL_ARGUMENTS
    rich_utils.OPTIONS_PANEL_TITLE = copy.PANEL_OPTIONS
    rich_utils.COMMANDS_PANEL_TITLE = copy.PANEL_COMMANDS
    rich_utils.ERRORS_PANEL_TITLE = copy.PANEL_ERROR
    rich_utils.DEFAULT_STRING = copy.DEFAULT_VALUE
    rich_utils.ENVVAR_STRING = copy.ENVVAR_VALUE
    rich_utils.REQUIRED_LONG_STRING = copy.REQUIRED_VALUE
    rich_utils.DEPRECATED_STRING = copy.DEPRECATED
    rich_utils.ABORTED_TEXT = copy.ABORTED
    rich_utils.RICH_HELP = copy.TRY_HELP


def localize(command: Command, parent: Context | None = None, name: str = "asesor") -> None:
    """Spanish help for `command` and every sub-command under it (idempotent)."""
    _panel_words()
    ctx = _SpanishContext(command, parent=parent, info_name=name, help_option_names=HELP_OPTION_NAMES)
    command.context_class = _SpanishContext
    command.options_metavar = copy.OPTIONS_METAVAR
    help_option = command.get_help_option(ctx)  # created once per command and cached by click
    if help_option is not None:
        help_option.help = copy.HELP_OPTION
    for param in command.params:
        if isinstance(param, TyperOption) and param.name in _COMPLETION_HELP:
            param.help = _COMPLETION_HELP[param.name]
    if isinstance(command, TyperGroup):
        command.subcommand_metavar = copy.SUBCOMMAND_METAVAR
        for sub_name, sub in command.commands.items():
            localize(sub, ctx, sub_name)


def _hint(exc: click.BadParameter) -> str:
    hint: Any = exc.param_hint if exc.param_hint is not None else (exc.param.get_error_hint() if exc.param else "")
    return " / ".join(f"'{h}'" for h in hint) if isinstance(hint, list | tuple) else str(hint)


def _reason(exc: click.BadParameter) -> str:
    """typer converts values with pydantic and keeps its error as the cause: its type names the Spanish text."""
    if found := _NOT_ONE_OF.search(exc.message):
        return copy.USAGE_NOT_ONE_OF.format(value=found["value"], choices=found["choices"])
    errors = getattr(exc.__cause__, "errors", None)
    if callable(errors) and (found_errors := errors()):
        return copy.field_message(str(found_errors[0].get("type")), exc.message, found_errors[0].get("ctx"))
    return exc.message


def usage_message(exc: click.UsageError) -> str:
    """A usage error in Spanish; a reason only the library words (a value typer could not convert) is kept."""
    if isinstance(exc, click.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        return copy.USAGE_MISSING.format(param=f"{_PARAM_KINDS.get(kind, kind)} {_hint(exc)}".strip())
    if isinstance(exc, click.BadParameter):
        return copy.USAGE_BAD_VALUE.format(param=_hint(exc), reason=_reason(exc))
    if isinstance(exc, click.NoSuchOption):
        if exc.possibilities:
            return copy.USAGE_NO_SUCH_OPTION_SUGGEST.format(
                name=exc.option_name, suggestion=", ".join(sorted(exc.possibilities))
            )
        return copy.USAGE_NO_SUCH_OPTION.format(name=exc.option_name)
    if isinstance(exc, click.BadOptionUsage) and "requires an argument" in exc.message:
        return copy.USAGE_OPTION_NEEDS_VALUE.format(name=exc.option_name)
    if found := _EXTRA_ARGS.fullmatch(exc.message):
        return copy.USAGE_EXTRA_ARGUMENT.format(args=found["args"])
    if found := _NO_SUCH_COMMAND.fullmatch(exc.message):
        return copy.USAGE_NO_SUCH_COMMAND.format(name=found["name"])
    if exc.message == "Missing command.":
        return copy.USAGE_MISSING_COMMAND
    return copy.USAGE_GENERIC.format(reason=exc.format_message())
