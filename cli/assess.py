"""`asesor assess`: SPEC §7. One JSON object, a JSON array, or `--jsonl` lines on stdin; results on stdout.

Invalid input exits 2 with a JSON error on stderr naming the field; a single invalid object writes nothing
to stdout. In a batch, good items are written (each with its `line`, 1-based) and each bad one is reported
on stderr as one JSON line; the exit code is then 2. `--jsonl` spreads the work over processes forked after
the engine is built, so the workers start warm.

No input crashes the command (issue #13 item 5): numbers longer than MAX_NUMBER_CHARS characters (Python
refuses integers of more than 4,300 digits with a ValueError; a profile needs a dozen), NaN/Infinity, nesting
deeper than MAX_DEPTH (deep JSON ran json's recursion out), invalid UTF-8 and anything the engine raises are
each an error on that item's line, named with the limit, and the run goes on.
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
from core import copy_es as copy
from engine.policy import PolicyError
from engine.validation import AssessmentInputError

if TYPE_CHECKING:  # the engine's heavy imports wait until a command needs them
    from engine.assess import Assessor

CHUNK = 256
MAX_NUMBER_CHARS = 32  # digits, sign, point and exponent of one JSON number
MAX_DEPTH = 16  # a profile nests three levels (request → answers/loan/applicant → value)
_worker_assessor: Assessor | None = None
_worker_as_of: date | None = None


def _error(message: str, *, code: str = "invalid_input", line: int | None = None, **extra: Any) -> str:
    """cli.errors' shape; a batch item's error carries its `line` beside the error, as a result does."""
    body = error_body(code, message, **extra)
    return json.dumps(body if line is None else {**body, "line": line}, ensure_ascii=False)


class InputLimit(ValueError):
    """The input passes a limit of this command: `code` and `limit` go into the error."""

    def __init__(self, code: str, message: str, limit: int) -> None:
        super().__init__(message)
        self.code, self.limit = code, limit


class _Refused:
    """A number json parsed but this command refuses; kept in place so the item holding it is the one refused."""

    __slots__ = ("error",)

    def __init__(self, error: InputLimit) -> None:
        self.error = error


def _too_long(text: str) -> _Refused | None:
    if len(text) <= MAX_NUMBER_CHARS:
        return None
    return _Refused(
        InputLimit("number_too_long", copy.ASSESS_NUMBER_TOO_LONG.format(limit=MAX_NUMBER_CHARS), MAX_NUMBER_CHARS)
    )


def _int(text: str) -> int | _Refused:
    return _too_long(text) or int(text)


def _float(text: str) -> float | _Refused:
    refused = _too_long(text)
    if refused is not None:
        return refused
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return _Refused(
            InputLimit("number_too_large", copy.ASSESS_NUMBER_TOO_LARGE.format(text=text), MAX_NUMBER_CHARS)
        )
    return value


def _constant(name: str) -> _Refused:
    return _Refused(InputLimit("number_not_finite", copy.ASSESS_NUMBER_NOT_FINITE.format(name=name), MAX_NUMBER_CHARS))


def check(value: Any) -> Any:
    """`value` (one item) within the limits: raises InputLimit for a refused number or too deep a nesting."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, _Refused):
            raise item.error
        if depth > MAX_DEPTH:
            raise InputLimit("too_deep", copy.ASSESS_TOO_DEEP.format(limit=MAX_DEPTH), MAX_DEPTH)
        if isinstance(item, dict):
            stack.extend((c, depth + 1) for c in item.values())
        elif isinstance(item, list):
            stack.extend((c, depth + 1) for c in item)
    return value


def parse(raw: bytes | str) -> Any:
    """JSON text (bytes: UTF-8) as Python values; raises ValueError for what is not JSON at all, InputLimit for
    nesting that ran json's recursion out. Refused numbers stay in place for `check` to report per item."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # UnicodeDecodeError is a ValueError
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise InputLimit("too_deep", copy.ASSESS_TOO_DEEP.format(limit=MAX_DEPTH), MAX_DEPTH) from None


def input_error(exc: ValueError, *, line: int | None = None) -> str:
    """The JSON error of input `parse` refused."""
    if isinstance(exc, InputLimit):
        return _error(str(exc), code=exc.code, line=line, limit=exc.limit)
    if isinstance(exc, UnicodeDecodeError):
        return _error(copy.ASSESS_NOT_UTF8.format(start=exc.start), code="invalid_encoding", line=line)
    if isinstance(exc, json.JSONDecodeError):
        col, row = exc.colno, exc.lineno
        where = (
            copy.ASSESS_WHERE_COLUMN.format(col=col)
            if line is not None
            else copy.ASSESS_WHERE_LINE.format(line=row, col=col)
        )
        reason = f"{copy.json_reason(exc.msg)} ({where})"
        return _error(copy.ASSESS_NOT_JSON.format(reason=reason), code="invalid_json", line=line)
    return _error(copy.ASSESS_NOT_JSON.format(reason=exc), code="invalid_json", line=line)


def _assess_one(assessor: Assessor, item: Any, as_of: date | None) -> tuple[bool, str]:
    """(ok, JSON text): the result, or the error object naming the field. Never raises: one item that breaks
    the engine must not end a batch (it is reported as an internal error on its line)."""
    try:
        return True, assessor.assess(item, as_of).model_dump_json()
    except AssessmentInputError as exc:
        errors = [{"field": e["field"], "message": copy.input_message(e), "type": e.get("type")} for e in exc.errors]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        first = errors[0]["field"] if errors else None
        return False, _error(copy.INPUT_FIELDS.format(fields=fields), field=first, errors=errors)
    except RecursionError:
        return False, _error(copy.ASSESS_TOO_DEEP.format(limit=MAX_DEPTH), code="too_deep", limit=MAX_DEPTH)
    except Exception as exc:  # a bug, not the input's fault: the batch goes on and the exit code says so
        return False, _error(copy.ASSESS_INTERNAL.format(name=type(exc).__name__), code="internal_error")


def _assess_line(assessor: Assessor, line_no: int, raw: bytes | str, as_of: date | None) -> tuple[int, bool, str]:
    try:
        item = check(parse(raw))
    except ValueError as exc:
        return line_no, False, input_error(exc, line=line_no)
    ok, out = _assess_one(assessor, item, as_of)
    if ok:
        return line_no, True, out[:-1] + f',"line":{line_no}}}'
    err = json.loads(out)
    err["line"] = line_no
    return line_no, False, json.dumps(err, ensure_ascii=False)


def _work_chunk(chunk: list[tuple[int, bytes | str]]) -> list[tuple[int, bool, str]]:
    assert _worker_assessor is not None
    return [_assess_line(_worker_assessor, n, text, _worker_as_of) for n, text in chunk]


def _chunks(lines: Iterable[bytes | str]) -> Iterator[list[tuple[int, bytes | str]]]:
    chunk: list[tuple[int, bytes | str]] = []
    for n, line in enumerate(lines, start=1):
        if line.strip():
            chunk.append((n, line))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_jsonl(
    assessor: Assessor, lines: Iterable[bytes | str], workers: int, as_of: date | None, out: Any, err: Any
) -> int:
    """Assess JSON lines (bytes: each decoded on its own, so one bad byte spoils one line); returns the number
    of bad lines. Output order follows input order."""
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
    jsonl: Annotated[bool, typer.Option("--jsonl", help=copy.ASSESS_JSONL)] = False,
    policy: Annotated[Path | None, typer.Option(help=copy.POLICY_FILE)] = None,
    model_dir: Annotated[Path | None, typer.Option(help=copy.MODEL_DIR)] = None,
    workers: Annotated[int, typer.Option(help=copy.ASSESS_WORKERS)] = 0,
    as_of: Annotated[str | None, typer.Option(help=copy.ASSESS_AS_OF)] = None,
) -> None:
    """Evalúa perfiles (JSON en stdin) y escribe los resultados (JSON en stdout)."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        sys.stderr.write(_error(copy.ASSESS_BAD_AS_OF, field="--as-of") + "\n")
        raise typer.Exit(2) from None
    if sys.stdin.isatty():  # a person at a terminal, not a pipe: say what is awaited instead of waiting silently
        sys.stderr.write(  # at once, not after the seconds the engine takes to load (they overlap the typing)
            "asesor assess: pega un perfil JSON (SPEC §7) y termina con Ctrl-D, o redirige un archivo: "
            "asesor assess < examples/profile.json\n"
        )
        sys.stderr.flush()
    from core.config import get_settings
    from engine.assess import get_assessor

    settings = get_settings()
    try:  # the model `current` names; one that cannot serve is a JSON error (cli.errors: model_unavailable)
        assessor = get_assessor(policy or settings.policy_file, model_dir or settings.resolved_model_dir)
    except PolicyError as exc:
        policy_failure(exc, "--policy" if policy else None)

    if jsonl:
        n_workers = workers or os.cpu_count() or 1
        bad = run_jsonl(assessor, sys.stdin.buffer, n_workers, day, sys.stdout, sys.stderr)
        raise typer.Exit(2 if bad else 0)

    try:
        data = parse(sys.stdin.buffer.read())
    except ValueError as exc:
        sys.stderr.write(input_error(exc) + "\n")
        raise typer.Exit(2) from None

    if isinstance(data, list):
        good: list[str] = []
        bad = 0
        for i, item in enumerate(data, start=1):
            try:
                ok, text = _assess_one(assessor, check(item), day)
            except ValueError as exc:
                ok, text = False, input_error(exc)
            if ok:
                good.append(text[:-1] + f',"line":{i}}}')
            else:
                bad += 1
                err = json.loads(text)
                err["line"] = i
                sys.stderr.write(json.dumps(err, ensure_ascii=False) + "\n")
        sys.stdout.write("[" + ",".join(good) + "]\n")
        raise typer.Exit(2 if bad else 0)

    try:
        ok, text = _assess_one(assessor, check(data), day)
    except ValueError as exc:
        ok, text = False, input_error(exc)
    if not ok:
        sys.stderr.write(text + "\n")
        raise typer.Exit(2)
    sys.stdout.write(text + "\n")
