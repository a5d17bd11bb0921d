"""`asesor assess`: SPEC §7. One JSON object, a JSON array, or `--jsonl` lines on stdin; results on stdout.

Invalid input exits 2 with a JSON error on stderr naming the field; a single invalid object writes nothing
to stdout. In a batch, good items are written (each with its `line`, 1-based) and each bad one is reported
on stderr as one JSON line; the exit code is then 2. `--jsonl` spreads the work over processes forked after
the engine is built, so the workers start warm.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.errors import error_body, policy_failure
from engine.policy import PolicyError
from engine.validation import AssessmentInputError

if TYPE_CHECKING:  # the engine's heavy imports wait until a command needs them
    from engine.assess import Assessor

CHUNK = 256
_worker_assessor: Assessor | None = None
_worker_as_of: date | None = None


def _error(message: str, *, code: str = "invalid_input", line: int | None = None, **extra: Any) -> str:
    """cli.errors' shape; a batch item's error carries its `line` beside the error, as a result does."""
    body = error_body(code, message, **extra)
    return json.dumps(body if line is None else {**body, "line": line}, ensure_ascii=False)


def _assess_one(assessor: Assessor, item: Any, as_of: date | None) -> tuple[bool, str]:
    """(ok, JSON text): the result, or the error object naming the field."""
    try:
        return True, assessor.assess(item, as_of).model_dump_json()
    except AssessmentInputError as exc:
        first = exc.errors[0].get("field") if exc.errors else None
        return False, _error(str(exc), field=first, errors=exc.errors)


def _assess_line(assessor: Assessor, line_no: int, text: str, as_of: date | None) -> tuple[int, bool, str]:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        return (
            line_no,
            False,
            _error(f"not valid JSON: {exc.msg} (column {exc.colno})", code="invalid_json", line=line_no),
        )
    ok, out = _assess_one(assessor, item, as_of)
    if ok:
        return line_no, True, out[:-1] + f',"line":{line_no}}}'
    err = json.loads(out)
    err["line"] = line_no
    return line_no, False, json.dumps(err, ensure_ascii=False)


def _work_chunk(chunk: list[tuple[int, str]]) -> list[tuple[int, bool, str]]:
    assert _worker_assessor is not None
    return [_assess_line(_worker_assessor, n, text, _worker_as_of) for n, text in chunk]


def _chunks(lines: Iterable[str]) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for n, line in enumerate(lines, start=1):
        if line.strip():
            chunk.append((n, line))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_jsonl(assessor: Assessor, lines: Iterable[str], workers: int, as_of: date | None, out, err) -> int:
    """Assess JSON lines; returns the number of bad lines. Output order follows input order."""
    global _worker_assessor, _worker_as_of
    bad = 0
    chunks = _chunks(lines)
    if workers <= 1:
        results: Iterable[list[tuple[int, bool, str]]] = (
            [_assess_line(assessor, n, t, as_of) for n, t in c] for c in chunks
        )
        pool = None
    else:
        # fork after the assessor is built: children inherit the warm engine and never load or train again
        _worker_assessor, _worker_as_of = assessor, as_of
        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap(_work_chunk, chunks)
    try:
        for batch in results:
            for _, ok, text in batch:
                if ok:
                    out.write(text + "\n")
                else:
                    bad += 1
                    err.write(text + "\n")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return bad


def assess_command(
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Read one JSON object per line.")] = False,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file (default: ASESOR_POLICY or the shipped one).")
    ] = None,
    model_dir: Annotated[
        Path | None, typer.Option(help="Model directory (default: ASESOR_MODEL_DIR or var/models).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes for --jsonl (default: all cores).")] = 0,
    as_of: Annotated[str | None, typer.Option(help="Assessment date YYYY-MM-DD (default: today).")] = None,
) -> None:
    """Evalúa perfiles (JSON en stdin) y escribe los resultados (JSON en stdout)."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        sys.stderr.write(_error("as_of must be a date YYYY-MM-DD", field="--as-of") + "\n")
        raise typer.Exit(2) from None
    from engine.assess import get_assessor

    try:
        assessor = get_assessor(policy, model_dir)
    except PolicyError as exc:
        policy_failure(exc, "--policy" if policy else None)

    if sys.stdin.isatty():  # a person at a terminal, not a pipe: say what is awaited instead of waiting silently
        sys.stderr.write(
            "asesor assess: pega un perfil JSON (SPEC §7) y termina con Ctrl-D, o redirige un archivo: "
            "asesor assess < examples/profile.json\n"
        )
    if jsonl:
        n_workers = workers or os.cpu_count() or 1
        bad = run_jsonl(assessor, sys.stdin, n_workers, day, sys.stdout, sys.stderr)
        raise typer.Exit(2 if bad else 0)

    raw = sys.stdin.read()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        sys.stderr.write(
            _error(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", code="invalid_json") + "\n"
        )
        raise typer.Exit(2) from None

    if isinstance(data, list):
        good: list[str] = []
        bad = 0
        for i, item in enumerate(data, start=1):
            ok, text = _assess_one(assessor, item, day)
            if ok:
                good.append(text[:-1] + f',"line":{i}}}')
            else:
                bad += 1
                err = json.loads(text)
                err["line"] = i
                sys.stderr.write(json.dumps(err, ensure_ascii=False) + "\n")
        sys.stdout.write("[" + ",".join(good) + "]\n")
        raise typer.Exit(2 if bad else 0)

    ok, text = _assess_one(assessor, data, day)
    if not ok:
        sys.stderr.write(text + "\n")
        raise typer.Exit(2)
    sys.stdout.write(text + "\n")
