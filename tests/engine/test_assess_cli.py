"""`asesor assess` as a user runs it: a real process, JSON on stdin, results or JSON errors out."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SAMPLE = json.loads((ROOT / "examples" / "profile.json").read_text())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ)
    e["ASESOR_MODEL_DIR"] = str(tmp_path_factory.mktemp("models"))
    return e


def run(args: list[str], stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "assess", "--as-of", "2026-11-24", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def bad_sample() -> dict:
    data = copy.deepcopy(SAMPLE)
    data["answers"]["historial_crediticio"] = "excelentisimo"
    return data


def test_one_object(env):
    p = run([], json.dumps(SAMPLE), env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["bank_fit"]["recommended"] == "bbva" and "policy_version" in out


def test_invalid_object_exits_2_with_the_field_and_writes_nothing(env):
    p = run([], json.dumps(bad_sample()), env)
    assert p.returncode == 2 and p.stdout == ""
    err = json.loads(p.stderr.strip().splitlines()[-1])
    assert err["error"]["field"] == "answers.historial_crediticio"
    assert err["error"]["errors"][0]["field"] == "answers.historial_crediticio"


def test_broken_json_is_a_json_error(env):
    p = run([], '{"answers": ', env)
    assert p.returncode == 2 and p.stdout == ""
    assert json.loads(p.stderr.strip().splitlines()[-1])["error"]["code"] == "invalid_json"


def test_array_keeps_good_items_and_reports_bad_ones(env):
    p = run([], json.dumps([SAMPLE, bad_sample(), SAMPLE]), env)
    assert p.returncode == 2
    results = json.loads(p.stdout)
    assert [r["line"] for r in results] == [1, 3]
    err = json.loads(p.stderr.strip().splitlines()[-1])
    assert err["line"] == 2 and err["error"]["field"] == "answers.historial_crediticio"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_jsonl_in_order_with_bad_lines_reported(env, workers):
    lines = [json.dumps(SAMPLE)] * 600 + ["not json", json.dumps(bad_sample())] + [json.dumps(SAMPLE)] * 3
    p = run(["--jsonl", "--workers", workers], "\n".join(lines) + "\n", env)
    assert p.returncode == 2
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert [r["line"] for r in out] == [*range(1, 601), 603, 604, 605]
    errs = [json.loads(x) for x in p.stderr.strip().splitlines() if x.startswith("{")]
    assert [(e["line"], e["error"]["code"]) for e in errs] == [(601, "invalid_json"), (602, "invalid_input")]
    assert len({r["pd"]["probability"] for r in out}) == 1  # same profile, same answer, in every process


def test_policy_option_and_env(env, tmp_path):
    from engine.policy import DEFAULT_POLICY_PATH

    custom = tmp_path / "p.toml"
    custom.write_bytes(DEFAULT_POLICY_PATH.read_bytes().replace(b'version = "2026.12.1"', b'version = "x-1"'))
    p = run(["--policy", str(custom)], json.dumps(SAMPLE), env)
    assert json.loads(p.stdout)["policy_version"] == "x-1"
    p = run([], json.dumps(SAMPLE), {**env, "ASESOR_POLICY": str(custom)})
    assert json.loads(p.stdout)["policy_version"] == "x-1"
    broken = tmp_path / "bad.toml"
    broken.write_bytes(DEFAULT_POLICY_PATH.read_bytes().replace(b"max_dti = 0.40", b"max_dti = 4.0"))
    p = run(["--policy", str(broken)], json.dumps(SAMPLE), env)
    assert p.returncode == 2
    err = json.loads(p.stderr.strip().splitlines()[-1])
    assert err["error"]["code"] == "invalid_policy" and err["error"]["problems"][0]["key"] == "capacity.max_dti"
    assert err["error"]["field"] == "--policy"
    p = run([], json.dumps(SAMPLE), {**env, "ASESOR_POLICY": str(broken)})
    assert p.returncode == 3  # configuration, not input: the environment names the broken file
    assert json.loads(p.stderr.strip().splitlines()[-1])["error"]["field"] == "ASESOR_POLICY"


# ---------------------------------------------------------------------- input that used to crash (#13 item 5)
def huge_number_sample() -> str:
    """The sample with a 4,400-digit term: Python refuses int("…") of more than 4,300 digits (a traceback)."""
    data = copy.deepcopy(SAMPLE)
    data["loan"]["term_months"] = 123456789
    return json.dumps(data).replace("123456789", "9" * 4400)


DEEP = "[" * 100_000 + "]" * 100_000  # json's recursion ran out: a traceback


@pytest.mark.parametrize("workers", ["1", "2"])
def test_jsonl_bad_line_at_601_of_1201_is_reported_and_the_rest_answered(env, workers):
    """Before: the traceback at line 601 ended the run with 512 results written and the rest lost."""
    lines = [json.dumps(SAMPLE)] * 1201
    lines[600] = huge_number_sample()
    lines[700] = DEEP
    lines[800] = '{"loan": {"vehicle_price": 1e999}}'
    lines[900] = '{"loan": NaN}'
    p = run(["--jsonl", "--workers", workers], "\n".join(lines) + "\n", env)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    good = [json.loads(x)["line"] for x in p.stdout.splitlines()]
    assert good == [n for n in range(1, 1202) if n not in (601, 701, 801, 901)]  # every good line, in order
    errs = [json.loads(x) for x in p.stderr.strip().splitlines() if x.startswith("{")]
    assert [(e["line"], e["error"]["code"], e["error"]["limit"]) for e in errs] == [
        (601, "number_too_long", 32),
        (701, "too_deep", 16),
        (801, "number_too_large", 32),
        (901, "number_not_finite", 32),
    ]


def test_single_object_and_array_modes_name_the_limit(env):
    p = run([], huge_number_sample(), env)
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert json.loads(p.stderr.strip().splitlines()[-1])["error"]["code"] == "number_too_long"
    p = run([], DEEP, env)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    err = json.loads(p.stderr.strip().splitlines()[-1])["error"]
    assert err["code"] == "too_deep" and err["limit"] == 16
    p = run([], f"[{json.dumps(SAMPLE)}, {huge_number_sample()}, {json.dumps(SAMPLE)}]", env)
    assert p.returncode == 2 and [r["line"] for r in json.loads(p.stdout)] == [1, 3]
    err = json.loads(p.stderr.strip().splitlines()[-1])
    assert err["line"] == 2 and err["error"]["code"] == "number_too_long"


def test_invalid_utf8_spoils_only_its_line(env):
    data = (json.dumps(SAMPLE) + "\n").encode() + b'{"answers": "\xff"}\n' + (json.dumps(SAMPLE) + "\n").encode()
    p = subprocess.run(
        [sys.executable, "-m", "cli", "assess", "--as-of", "2026-11-24", "--jsonl", "--workers", "1"],
        input=data,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert p.returncode == 2
    assert [json.loads(x)["line"] for x in p.stdout.splitlines()] == [1, 3]
    err = json.loads(p.stderr.decode().strip().splitlines()[-1])
    assert err["line"] == 2 and err["error"]["code"] == "invalid_encoding"


def test_on_a_terminal_it_says_what_it_expects_before_the_engine_loads(env, tmp_path):
    """#17: `asesor assess` on a terminal waited silently. The hint comes at once: with a model directory that
    cannot be used (a file), it is still written, before the JSON error of the model."""
    import pty
    import select
    import time

    def typed(env_: dict[str, str], profile: str | None) -> tuple[str, str, int]:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "assess", "--as-of", "2026-11-24"], stdin=slave,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_, cwd=ROOT,
        )  # fmt: skip
        os.close(slave)
        err = b""
        end = time.monotonic() + 120
        assert proc.stderr is not None
        while b"Ctrl-D" not in err and proc.poll() is None and time.monotonic() < end:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                err += os.read(proc.stderr.fileno(), 4096)
        if profile is not None:
            os.write(master, profile.encode() + b"\n\x04")  # the paste, then Ctrl-D
        out, rest = proc.communicate(timeout=300)
        os.close(master)
        return out.decode(), (err + rest).decode(), proc.returncode

    out, err, code = typed(env, json.dumps(SAMPLE))
    assert code == 0 and err.startswith("asesor assess: pega un perfil JSON"), err
    assert json.loads(out)["bank_fit"]["recommended"] == "bbva"

    not_a_dir = tmp_path / "models"
    not_a_dir.write_text("")
    out, err, code = typed({**env, "ASESOR_MODEL_DIR": str(not_a_dir)}, None)
    assert code != 0 and out == "", err
    assert err.startswith("asesor assess: pega un perfil JSON") and '{"error"' in err, err
