"""The versioned policy file: load, validate, fingerprint.

`load_policy(path)` reads the file it is given, else the one shipped here (the adapters pass the file that
core.config.Settings names: ASESOR_POLICY).
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from engine.policy.models import ASSESSED_PRODUCT, QUESTIONS, REJECT, Policy

DEFAULT_POLICY_PATH = Path(__file__).with_name("default.toml")

__all__ = [
    "ASSESSED_PRODUCT",
    "DEFAULT_POLICY_PATH",
    "QUESTIONS",
    "REJECT",
    "Policy",
    "PolicyError",
    "default_policy",
    "load_policy",
]


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the key and the problem."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
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


def parse_policy(raw: bytes, path: Path) -> Policy:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(path, [("", f"not valid TOML: {exc}")]) from exc
    data["content_hash"] = hashlib.sha256(raw).hexdigest()
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for err in exc.errors():
            key = _dotted(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if key in seen:  # a union reports one error per branch; the first one is enough
                continue
            seen.add(key)
            problems.append((key, msg))
        raise PolicyError(path, problems) from exc


def load_policy(path: str | Path | None = None) -> Policy:
    chosen = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        raw = chosen.read_bytes()
    except OSError as exc:
        raise PolicyError(chosen, [("", f"cannot read the file: {exc.strerror or exc}")]) from exc
    return parse_policy(raw, chosen)


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The shipped policy, parsed once per process."""
    return load_policy(DEFAULT_POLICY_PATH)
