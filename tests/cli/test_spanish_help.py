"""The operator's surfaces speak Spanish: every `asesor` help screen, the CLI's usage errors and the API's problem
titles, with the words of core/copy_es.py (issue #18)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.main import app
from core import copy_es as copy

runner = CliRunner()

# click's and typer's stock words, and English words no Spanish help text needs
ENGLISH = re.compile(
    r"Show this message|Usage:|\bOptions\b|\bCommands\b|\bArguments\b|\bdefault\b|\[required\]|Install completion"
    r"|Show completion|\b(the|of|and|with|for|from|to|or|on|in|is|Print|Create|Write|Read|Run|Migrate|List)\b"
)


def _paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _paths(sub, (*path, name))


COMMANDS = list(_paths(typer.main.get_command(app)))


def test_the_walk_finds_every_command() -> None:
    # the root, its groups and their commands: a registration the walk missed would go unchecked
    assert {("db", "upgrade"), ("train", "psi"), ("policy", "replay"), ("assess",), ("bot",), ()} <= set(COMMANDS)
    assert len(COMMANDS) > 25


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "asesor")
def test_help_is_spanish(path: tuple[str, ...]) -> None:
    r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})  # wide: no help text wraps
    assert r.exit_code == 0, r.output
    text = r.output
    assert copy.USAGE_PREFIX.strip() in text and copy.PANEL_OPTIONS in text and copy.HELP_OPTION in text
    words = re.sub(r"--?[\w-]+", "", text)  # option names (--as-of, --from-db) are not prose
    english = sorted({m.group(0) for m in ENGLISH.finditer(words)})
    assert not english, f"asesor {' '.join(path)} --help has English words {english}:\n{text}"


def test_every_option_and_command_has_help() -> None:
    """An option without help shows only its name: nothing to be in Spanish, and nothing for the operator."""
    root = typer.main.get_command(app)
    missing = []
    for path in COMMANDS:
        command = root
        for name in path:
            assert isinstance(command, TyperGroup), path
            command = command.commands[name]
        if not command.help:
            missing.append(" ".join(path))
        missing += [f"{' '.join(path)} {p.name}" for p in command.params if not getattr(p, "help", None)]
    assert not missing


def _error(stderr: str) -> dict[str, object]:
    line = next(x for x in stderr.splitlines() if x.startswith('{"error"'))
    return dict(json.loads(line)["error"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["db", "upgrade", "--nope"], "No existe la opción --nope."),
        (["etl", "load"], "Falta el argumento 'file'."),
        (["api", "serve", "--port", "x"], "Valor inválido para '--port': Se esperaba un número entero."),
        (
            ["api", "serve", "--workers", "0"],
            "Valor inválido para '--workers': El valor es demasiado pequeño. (límite: 1)",
        ),
        (["nope"], "No existe el comando 'nope'."),
        (["db", "upgrade", "a", "b"], "Sobra el argumento b."),
        (["train", "psi", "--name", "m", "--fail-on", "x"], "usa uno de 'moderate', 'significant'"),
    ],
)
def test_usage_errors_are_spanish(args: list[str], expected: str) -> None:
    r = runner.invoke(app, args)
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "usage_error"
    assert expected in str(err["message"])


def test_assess_errors_are_spanish() -> None:
    r = runner.invoke(app, ["assess"], input='{"answers": {}}')
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "invalid_input" and str(err["message"]).startswith("Revisa estos campos")
    assert isinstance(err["errors"], list)
    assert {e["message"] for e in err["errors"]} == {copy.FIELD_MESSAGES["missing"]}
    r = runner.invoke(app, ["assess"], input='{"answers": ')
    assert _error(r.stderr)["message"] == "No es JSON válido: se esperaba un valor (línea 1, columna 13)"


_MISSING_CSV = "/no/existe/cohorte.csv"


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["train", "report", "--strategies", "none,nada"], "invalid_strategies", None),
        (["train", "report", "--valid-share", "1.5"], "invalid_valid_share", copy.ERR_VALID_SHARE),
        (["train", "card", "--candidates", "served,nada"], "invalid_candidates", None),
        (["train", "card", "--rates", "x,y"], "invalid_rates", copy.ERR_RATES_NOT_NUMBERS.format(rates="x,y")),
        (["train", "card", "--rates", "0.05,2"], "invalid_rates", copy.ERR_RATES_RANGE),
        (["train", "card", "--data", _MISSING_CSV], "data_not_found", copy.ERR_NO_SUCH_FILE.format(path=_MISSING_CSV)),
        (
            ["train", "applicant", "--from-db", "--data", _MISSING_CSV],
            "invalid_options",
            copy.ERR_EXCLUSIVE.format(first="--data", second="--from-db"),
        ),
        (
            ["train", "psi", "--name", "applicant", "--from-db", "--cohort", _MISSING_CSV],
            "invalid_options",
            copy.ERR_EXCLUSIVE.format(first="--cohort", second="--from-db"),
        ),
        (
            ["policy", "replay", "--policy", "p.toml", "--since", "2026-13-01"],
            "invalid_input",
            copy.ERR_DATE.format(option="--since"),
        ),
        (
            ["policy", "replay", "--policy", "p.toml", "--since", "2026-12-02", "--until", "2026-12-01"],
            "invalid_input",
            copy.ERR_SINCE_AFTER_UNTIL,
        ),
        (
            ["policy", "replay", "--policy", "p.toml", "--scheduler", "localhost:8786"],
            "invalid_input",
            copy.ERR_SCHEDULER_URL,
        ),
    ],
)
def test_analyst_command_errors_are_spanish(args: list[str], code: str, expected: str | None) -> None:
    """The analysts' commands (`train`, `policy replay`) refuse their own options in Spanish, with the words of
    core/copy_es.py, before loading anything."""
    r = runner.invoke(app, args)
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == code, r.stderr
    if expected is None:  # a list of unknown names: the template's words around them
        what = copy.ERR_STRATEGIES if code == "invalid_strategies" else copy.ERR_CANDIDATES
        assert str(err["message"]).startswith(f"{what} desconocidas: nada; las conocidas son: ")
    else:
        assert err["message"] == expected
    assert not ENGLISH.search(str(err["message"]).replace("--from-db", "").replace("--cohort", "")), err["message"]
