"""The versioned policy file: load, validate, fingerprint.

`load_policy(path)` reads the file it is given, else the one shipped here (the adapters pass the file that
core.config.Settings names: ASESOR_POLICY).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.policy.models import ASSESSED_PRODUCT, QUESTIONS, REJECT, Policy, PolicyCheck

DEFAULT_POLICY_PATH = Path(__file__).with_name("default.toml")

__all__ = [
    "ASSESSED_PRODUCT",
    "DEFAULT_POLICY_PATH",
    "QUESTIONS",
    "REJECT",
    "Policy",
    "PolicyCheck",
    "PolicyError",
    "default_policy",
    "load_policy",
]


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the key and the problem (plain English,
    for logs and developers). `code` says which failure it is (`unreadable`, `invalid_toml`, `invalid_values`) and
    `issues` each problem as {"key", "type", "ctx", "message"}: pydantic's error type or a PolicyCheck kind (or,
    for the whole file, `unreadable` / `invalid_toml` / `not_utf8`) with its values, so an adapter says them in
    its own words (core.copy_es.policy_message), as engine.validation's AssessmentInputError does."""

    def __init__(
        self,
        path: Path,
        problems: list[tuple[str, str]],
        *,
        code: str = "invalid_values",
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        self.path = path
        self.problems = problems
        self.code = code
        self.issues = (
            issues
            if issues is not None
            else [{"key": key, "type": "value_error", "ctx": {}, "message": msg} for key, msg in problems]
        )
        lines = "; ".join(f"{key}: {msg}" if key else msg for key, msg in problems)
        super().__init__(f"invalid policy file {path}: {lines}")


def _dotted(loc: tuple[object, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            # pydantic reports union branches as extra loc items ("Trap", "int", …); they are not keys
            if p in {"int", "str", "float", "Trap", "Tri", "Gauss", "literal['R']"} or str(p).startswith(
                ("function-", "tagged-union")
            ):
                continue
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)


_TOML_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _plain(value: Any) -> Any:
    """A check's value as a JSON value (lists and tuples of them stay lists)."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, int | float | str | bool | None) else str(value)


def _issue(err: Any) -> dict[str, Any]:
    """One pydantic error as an issue: a PolicyCheck keeps its kind and values, pydantic's own its type and ctx."""
    ctx = err.get("ctx") or {}
    check = ctx.get("error")
    if isinstance(check, PolicyCheck):
        return {"type": check.kind, "ctx": {k: _plain(v) for k, v in check.ctx.items()}}
    return {"type": err["type"], "ctx": {k: _plain(v) for k, v in ctx.items() if k != "error"}}


def parse_policy(raw: bytes, path: Path) -> Policy:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        message = f"not valid TOML: {exc}"
        issue = {"key": "", "type": "not_utf8", "ctx": {"start": exc.start}, "message": message}
        raise PolicyError(path, [("", message)], code="invalid_toml", issues=[issue]) from exc
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_WHERE.search(str(exc))
        ctx: dict[str, Any] = {"line": int(where[1]), "column": int(where[2])} if where else {}
        if not where and "at end of document" in str(exc):
            ctx = {"at_end": True}
        message = f"not valid TOML: {exc}"
        issue = {"key": "", "type": "invalid_toml", "ctx": ctx, "message": message}
        raise PolicyError(path, [("", message)], code="invalid_toml", issues=[issue]) from exc
    data["content_hash"] = hashlib.sha256(raw).hexdigest()
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        issues: list[dict[str, Any]] = []
        seen: set[str] = set()
        for err in exc.errors():
            key = _dotted(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if key in seen:  # a union reports one error per branch; the first one is enough
                continue
            seen.add(key)
            problems.append((key, msg))
            issues.append({"key": key, **_issue(err), "message": msg})
        raise PolicyError(path, problems, issues=issues) from exc


def load_policy(path: str | Path | None = None) -> Policy:
    chosen = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        raw = chosen.read_bytes()
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
        issue = {"key": "", "type": "unreadable", "ctx": {"errno": exc.errno}, "message": message}
        raise PolicyError(chosen, [("", message)], code="unreadable", issues=[issue]) from exc
    return parse_policy(raw, chosen)


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The shipped policy, parsed once per process."""
    return load_policy(DEFAULT_POLICY_PATH)
