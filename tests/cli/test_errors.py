"""CLI conventions (cli/errors.py): one JSON error shape on stderr, an exit code per failure class, no traceback
unless `asesor --debug`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.errors import AsesorGroup, CliError, ExitCode, state
from cli.main import app

ASESOR = str(Path(sys.executable).with_name("asesor"))
runner = CliRunner()


def _error(stderr: str) -> dict:
    lines = [x for x in stderr.splitlines() if x.startswith('{"error"')]
    assert len(lines) == 1, stderr
    body = json.loads(lines[0])
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["nope"], None),
        (["assess", "--bogus"], "--bogus"),
        (["api", "create-user"], "username"),
        (["--log-level", "LOUD", "policy", "path"], "--log-level"),
        (["train", "promote", "--name", "x"], "version"),
    ],
)
def test_usage_errors_are_json_with_exit_2(args: list[str], field: str | None) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == ExitCode.BAD_INPUT
    err = _error(r.stderr)
    assert err["code"] == "usage_error" and err.get("field") == field and err["help"].endswith("--help")
    assert "Traceback" not in r.stderr


def test_unreachable_database_is_exit_4_and_a_bad_url_exit_2() -> None:
    r = runner.invoke(app, ["db", "current", "--url", f"postgresql+psycopg://x:y@127.0.0.1:{_closed_port()}/z"])
    assert r.exit_code == ExitCode.UNAVAILABLE
    err = _error(r.stderr)
    assert err["code"] == "database_unavailable" and err["field"] == "DATABASE_URL"
    r = runner.invoke(app, ["db", "upgrade", "--url", "nosuchdialect://x"])
    assert r.exit_code == ExitCode.BAD_INPUT and _error(r.stderr)["field"] == "--url"


def test_api_serve_on_a_taken_port_is_exit_2_before_anything_loads() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = runner.invoke(app, ["api", "serve", "--port", str(port), "--no-migrate"])
    assert r.exit_code == ExitCode.BAD_INPUT
    err = _error(r.stderr)
    assert err["code"] == "port_in_use" and err["field"] == "--port"


def test_bad_setting_in_the_environment_is_exit_3(tmp_path: Path) -> None:
    """pydantic-settings refusing a value (here a TTL that is not a number) is configuration, not a bug."""
    p = subprocess.run(
        [ASESOR, "api", "handoff-url", "k", "a"],
        env={"PATH": "/usr/bin:/bin", "HANDOFF_TTL_SECONDS": "pronto", "ASESOR_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert p.returncode == ExitCode.CONFIG, p.stderr
    err = _error(p.stderr)
    assert err["code"] == "invalid_setting" and err["field"] == "HANDOFF_TTL_SECONDS"
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize(
    "args", [["api", "serve"], ["bot"], ["db", "upgrade"], ["assess"], ["api", "handoff-url", "k", "a"]]
)
def test_an_invalid_setting_is_the_same_error_from_every_command(tmp_path: Path, args: list[str]) -> None:
    """One shape (#17): `db upgrade` blamed DATABASE_URL with pydantic's raw text, and the commands that let the
    error reach cli.errors said `problems: [{key, …}]` where `api serve` and `bot` say `[{field, …}]`."""
    env = {"PATH": "/usr/bin:/bin", "BOT_MODE": "websocket", "BOT_TOKEN": "123456:" + "A" * 35}
    p = subprocess.run(
        [ASESOR, *args], env={**env, "ASESOR_DATA_DIR": str(tmp_path)}, input="", capture_output=True, text=True,
        timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == ExitCode.CONFIG, p.stderr
    assert _error(p.stderr) == {
        "code": "invalid_setting",
        "message": "Configuración inválida: revisa BOT_MODE.",
        "field": "BOT_MODE",
        "problems": [{"field": "BOT_MODE", "message": "Input should be 'polling' or 'webhook'"}],
    }
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("variable", ["ASESOR_DATA_DIR", "ASESOR_MODEL_DIR"])
@pytest.mark.parametrize("args", [["assess"], ["api", "serve", "--port", "1"]])
def test_a_data_or_model_directory_that_cannot_be_used_is_configuration(
    tmp_path: Path, variable: str, args: list[str]
) -> None:
    """A setting pointing at a file (or somewhere that cannot be created) was exit 70 "Error inesperado
    (NotADirectoryError …)", the class of a bug; it is exit 3 naming the variable (#17)."""
    not_a_dir = tmp_path / "un-archivo"
    not_a_dir.write_text("")
    env = {"PATH": "/usr/bin:/bin", "ASESOR_DATA_DIR": str(tmp_path / "datos"), variable: str(not_a_dir)}
    p = subprocess.run([ASESOR, *args], env=env, input="{}", capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == ExitCode.CONFIG, p.stderr
    err = _error(p.stderr)
    assert err["code"] == "unusable_directory" and err["field"] == variable, err
    assert "Traceback" not in p.stderr


def _toy_app() -> typer.Typer:
    toy = typer.Typer(cls=AsesorGroup)

    @toy.command()
    def boom(kind: str) -> None:
        if kind == "bug":
            raise ZeroDivisionError("division by zero")
        raise CliError("missing_setting", "falta X", field="X", exit_code=ExitCode.CONFIG)

    @toy.command()
    def other() -> None:  # two commands: a group, as the real app
        pass

    return toy


def test_a_bug_is_exit_70_with_a_hint_and_the_traceback_only_with_debug() -> None:
    toy = _toy_app()
    r = runner.invoke(toy, ["boom", "bug"])
    assert r.exit_code == ExitCode.INTERNAL != 1  # 1 is a failed check (policy simulate, train psi)
    err = _error(r.stderr)
    assert err["code"] == "internal_error" and "--debug" in err["message"] and "Traceback" not in r.stderr
    state.debug = True
    try:
        r = runner.invoke(toy, ["boom", "bug"])
    finally:
        state.debug = False
    assert r.exit_code == ExitCode.INTERNAL and "Traceback" in r.stderr and "ZeroDivisionError" in r.stderr
    r = runner.invoke(toy, ["boom", "config"])
    assert r.exit_code == ExitCode.CONFIG and _error(r.stderr) == {
        "code": "missing_setting",
        "message": "falta X",
        "field": "X",
    }


def test_help_of_bot_shows_no_subcommands() -> None:
    r = runner.invoke(app, ["bot", "--help"])
    assert r.exit_code == 0 and "COMMAND [ARGS]" not in r.stdout and "--workers" in r.stdout


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    """tqdm's disable=None: a log file (a pipe here) gets no `\\r`-joined bar lines, a terminal gets the bar,
    and --no-progress turns it off there too."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    german = Path(__file__).resolve().parents[2] / "engine" / "pd" / "data" / "germancredit.csv"
    assert german.is_file()

    def load(*extra: str, tty: bool) -> str:
        url = f"sqlite:///{tmp_path / 'etl.sqlite3'}"
        args = [ASESOR, "etl", "load", str(german), "--source", "german", "--url", url, *extra]
        if not tty:
            return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stderr
        primary, secondary = pty.openpty()
        # a terminal of 80 columns (a new pty has 0, and tqdm then draws an empty bar)
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            subprocess.run(args, stdout=subprocess.DEVNULL, stderr=secondary, timeout=120, check=True)
            os.close(secondary)
            chunks = []
            while True:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the terminal's other side is closed and drained
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
        finally:
            os.close(primary)

    assert "filas" not in load(tty=False)
    assert "etl german" in load(tty=True)
    assert "etl german" not in load("--no-progress", tty=True)


def test_migrations_log_nothing_of_alembic_even_at_info(tmp_path: Path) -> None:
    """alembic.ini's logging section no longer replaces the process's set-up, and Alembic's INFO lines
    (plugins, context) stay out of an INFO log: they were 7 lines on every bot start."""
    p = subprocess.run(
        [ASESOR, "--log-level", "INFO", "db", "upgrade", "--url", f"sqlite:///{tmp_path / 'a.sqlite3'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "alembic" not in p.stderr and "WARNI [" not in p.stderr, p.stderr
