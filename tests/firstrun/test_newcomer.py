"""A newcomer's first hour, on a clean clone (issue #17): the README's run command once and in the background,
stopped as the README says; a private PostgreSQL beside the one the suite uses; `--help` of every command; and
every command line of the README and of the scripts' hints, pasted as written (run when cheap and safe, else
`--help` of that command).

The clone is `git clone` of this repository's HEAD (commit first to test a change) into a temporary folder with
`../shared` beside it, as in CI. Its `.venv` is made by the run command from the warm uv cache (seconds). Nothing
keeps the machine's environment (uv cache, certificates) but none of the project's variables: no REDIS_URL,
DATABASE_URL, BOT_TOKEN or ASESOR_*.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# the project's own variables (and the suite's): a newcomer has none of them set
_PROJECT_VARS: tuple[str, ...] = (
    "ASESOR_",
    "TEST_",
    "BOT_",
    "TELEGRAM_",
    "WEBHOOK_",
    "ADVISORS_",
    "API_PUBLIC_URL",
    "CORS_",
)
_PROJECT_VARS += ("HANDOFF_", "DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV", "PYTHONPATH", "PROMETHEUS_MULTIPROC_DIR")


def _env(**extra: str) -> dict[str, str]:
    """The machine's environment (PATH, HOME and its uv cache, certificates, package index settings) without the
    project's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PROJECT_VARS)}
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not (REPO / ".git").exists():
        pytest.fail(f"{REPO} is not a git checkout: the newcomer test clones it")
    root = tmp_path_factory.mktemp("newcomer")
    dest = root / "asesor"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True, timeout=120)
    shared = (REPO.parent / "shared").resolve()
    if shared.is_dir():
        (root / "shared").symlink_to(shared)
    yield dest
    # whatever a failed step left running in the clone
    subprocess.run(["bash", "scripts/run.sh", "stop"], cwd=dest, env=_env(), capture_output=True, timeout=60)
    subprocess.run(["bash", "scripts/services.sh", "stop"], cwd=dest, env=_env(), capture_output=True, timeout=60)


def _bash(clone: Path, script: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=clone,
        env=_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _services_stopped(clone: Path) -> None:
    status = _bash(clone, "bash scripts/services.sh status", 60).stdout
    assert "redis: stopped" in status, status


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as r:  # our own server on loopback
        return int(r.status)


def test_1_run_once(clone: Path) -> None:
    """The README's run command with ASESOR_RUN_ONCE=1: installs, migrates, trains, assesses, stops its Redis."""
    p = _bash(clone, "bash scripts/run.sh", ASESOR_RUN_ONCE="1")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "banco recomendado:" in p.stderr and "Traceback" not in p.stderr
    assert (clone / ".venv" / "bin" / "asesor").exists() and (clone / "var" / "asesor.sqlite3").exists()
    _services_stopped(clone)


def _start_run(clone: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=clone,
        env=_env(ASESOR_API_PORT=str(port)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("   Detener:"):  # the last line of the run's greeting
            return proc, lines
    proc.kill()
    pytest.fail("the run printed no address:\n" + "".join(lines)[-3000:])


def _printed_addresses(lines: list[str]) -> list[str]:
    return [u.rstrip(").,") for line in lines if line.startswith("==") for u in re.findall(r"http://\S+", line)]


def _stopped(clone: Path, proc: subprocess.Popen[str], port: int) -> None:
    assert proc.wait(timeout=120) in (0, 143), "the run did not end"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert not (clone / "var" / "run.pid").exists()
    _services_stopped(clone)
    leftovers = subprocess.run(["pgrep", "-f", str(clone)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], f"processes of the clone still running: {leftovers}"


def test_2_background_run_answers_and_run_sh_stop_stops_it(clone: Path) -> None:
    """`run.sh stop` is SIGTERM to the run's script (as a process manager or `kill` would send): this is also the
    test of the script's TERM trap stopping the API and its Redis."""
    port = _free_port()
    proc, lines = _start_run(clone, port)
    try:
        addresses = _printed_addresses(lines)
        assert f"http://127.0.0.1:{port}" in addresses, lines
        for url in addresses:  # every address the run prints answers (the API, its /docs, the chat once it is there)
            assert _get(url if url.count("/") > 2 else url + "/healthz") < 400, url
        t0 = time.monotonic()
        stop = _bash(clone, "bash scripts/run.sh stop", 120)
        print(f"run.sh stop took {time.monotonic() - t0:.1f} s")
        if stop.returncode != 0:
            tree = subprocess.run(["ps", "-o", "pid,stat,wchan:24,cmd", "-g", str(proc.pid)], capture_output=True)
            os.killpg(proc.pid, signal.SIGKILL)
            rest = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"{stop.stderr}\n{tree.stdout.decode()}\n{''.join(lines)[-1500:]}{rest[-3000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _stopped(clone, proc, port)


def test_3_private_postgres_beside_the_suites(clone: Path) -> None:
    """services.sh makes and starts the clone's own cluster while the suite's server (and, on a developer's
    machine, any other cluster) is online, answers on its printed URL, and stops it."""
    p = _bash(clone, "bash scripts/services.sh start postgres", 180)
    assert p.returncode == 0, p.stderr
    url = p.stdout.split("TEST_DATABASE_URL=", 1)[1].split()[0]
    check = _bash(
        clone,
        ".venv/bin/python -c 'import sys, sqlalchemy as sa; e = sa.create_engine(sys.argv[1]);"
        ' print(e.connect().execute(sa.text("select current_user")).scalar())\' ' + url,
        60,
    )
    assert check.stdout.strip() == "asesor", check.stderr
    status = _bash(clone, "bash scripts/services.sh status", 60).stdout
    found = re.search(r"\((\S+)/data\)", status)
    assert found, status
    data_dir = Path(found.group(1))
    stop = _bash(clone, "bash scripts/services.sh stop postgres", 90)
    assert stop.returncode == 0 and "postgres: stopped" in _bash(clone, "bash scripts/services.sh status", 60).stdout
    if data_dir.is_absolute() and data_dir.name.startswith("asesor-postgres-"):
        shutil.rmtree(data_dir, ignore_errors=True)  # the /tmp home of a clone the postgres user cannot reach


WALK = r"""
import sys
from typer.main import get_command
from typer.testing import CliRunner
from cli.main import app

root = get_command(app)
runner = CliRunner()
failures, seen = [], 0


def walk(cmd, path):
    global seen
    r = runner.invoke(app, [*path, "--help"])
    seen += 1
    if r.exit_code != 0 or "Uso:" not in r.stdout:
        failures.append(f"{' '.join(path) or '(root)'}: exit {r.exit_code} {r.stderr[-300:]}")
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        walk(sub, [*path, name])


walk(root, [])


def resolve(words):
    # the command path a README line names: words while they are sub-commands ('a|b' names several)
    paths, cmd, path = [], root, []
    for word in words:
        subs = getattr(cmd, "commands", {})
        names = word.split("|")
        if not all(n in subs for n in names):
            break
        if len(names) > 1:
            return [[*path, n] for n in names]
        path.append(word)
        cmd = subs[word]
    return [path]


for line in sys.stdin.read().splitlines():
    words = line.split("#")[0].split()
    if ".venv/bin/asesor" not in words:
        continue
    rest = words[words.index(".venv/bin/asesor") + 1:]
    for path in resolve(rest):
        if not path or path == ["COMMAND"]:
            continue
        r = runner.invoke(app, [*path, "--help"])
        if r.exit_code != 0:
            failures.append(f"README: {line.strip()} -> {' '.join(path)} --help: exit {r.exit_code}")
print(seen)
print("\n".join(failures), file=sys.stderr)
sys.exit(1 if failures else 0)
"""


def _readme_lines(clone: Path) -> list[str]:
    text = (clone / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_4_help_of_every_command_and_every_readme_command_parses(clone: Path) -> None:
    lines = _readme_lines(clone)
    assert any(".venv/bin/asesor" in line for line in lines)
    p = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-c", WALK],
        cwd=clone,
        env=_env(),
        input="\n".join(lines),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[0]) >= 20  # every command and group answered --help


def test_5_readme_and_script_lines_work_as_pasted(clone: Path) -> None:
    """The cheap, side-effect-free lines run exactly as written; run.sh's user hint runs with the password from
    the environment (as written it asks on a terminal); each benchmark answers --help."""
    lines = _readme_lines(clone)
    as_written = [
        ".venv/bin/asesor assess < examples/profile.json",
        'cp "$(.venv/bin/asesor policy path)" my-policy.toml',
        ".venv/bin/asesor policy check my-policy.toml",
        ".venv/bin/asesor db upgrade",
    ]
    for wanted in as_written:
        line = next((x for x in lines if x.startswith(wanted)), None)
        assert line is not None, f"the README no longer has {wanted!r}"
        command = line.split("  #")[0]
        p = _bash(clone, command, 300)
        assert p.returncode == 0, f"{command}: {p.stderr[-2000:]}"
    hint = (clone / "scripts" / "run.sh").read_text(encoding="utf-8")
    hinted = re.search(r"(\.venv/bin/asesor api create-user [^\"]*?)\"", hint)
    assert hinted, hint
    create = hinted.group(1).strip()
    p = _bash(clone, create, 120, ASESOR_NEW_USER_PASSWORD="una-clave-bastante-larga")
    assert p.returncode == 0 and '"role": "admin"' in p.stdout, p.stderr
    for line in lines:
        m = re.match(r"\.venv/bin/python (benchmarks/\w+\.py)", line)
        if m:
            p = _bash(clone, f".venv/bin/python {m.group(1)} --help", 120)
            assert p.returncode == 0, f"{m.group(1)} --help: {p.stderr[-1000:]}"


def test_6_the_terminal_chat_as_the_readme_says(clone: Path) -> None:
    """`bash scripts/run.sh chat` with scripted answers, as pasted from the README: the dialog runs on this
    checkout's Redis, started for the chat and stopped after it (`asesor chat` alone looked for a Redis on 6379
    and failed). With `--session`, passed on to `asesor chat`, a second chat resumes where the first stopped: the
    dialog survived the Redis stop."""
    line = next((x for x in _readme_lines(clone) if "| bash scripts/run.sh chat" in x), None)
    assert line is not None, "the README no longer shows the scripted terminal chat"
    _services_stopped(clone)
    first = _bash(clone, line.split("  #")[0], 300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Pregunta 1 de 8" in first.stdout and "Traceback" not in first.stderr
    _services_stopped(clone)
    named = _bash(clone, "printf '1\\nAna\\n1990\\n1\\n1\\n' | bash scripts/run.sh chat --session prueba", 300)
    assert named.returncode == 0 and "Pregunta 2 de 8" in named.stdout, named.stderr[-2000:]
    _services_stopped(clone)
    again = _bash(clone, "bash scripts/run.sh chat --session prueba", 300)  # nothing on standard input
    assert again.returncode == 0, again.stderr[-2000:]
    assert "te quedaste en: pregunta 2 de 8" in again.stdout and "¿Aceptas el aviso" not in again.stdout, again.stdout
    _services_stopped(clone)
