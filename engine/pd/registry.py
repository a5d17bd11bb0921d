"""The model registry: versioned artifacts on disk, the version in service and its promotions. JSON, no pickle.

Layout, for every model name (the applicant PD model and the seed-001 study's models alike):

    <model_dir>/<name>/<version>/model.json (+ MODEL_CARD.md)   one directory per version, written once
    <model_dir>/<name>/current                                   the version in service (one line)
    <model_dir>/<name>/promotions.jsonl                          one line per promotion: who, when, why, cited
    <model_dir>/<name>/comparisons/<version>.json                the last champion/challenger comparison

Only `promote` writes `current`: training writes a version and leaves the one in service alone, except on an
empty registry, whose first version is promoted as its bootstrap. Writes are atomic (temporary file +
os.replace, temporary directory + rename), so a reader never sees half an artifact; a promotion holds a lock
file, so two at once both end in promotions.jsonl in the order they took effect.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

APPLICANT_FORMAT = "asesor.applicant_pd"  # the applicant PD model (engine/pd/model.py, engine/training/applicant.py)
MODEL_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
CURRENT = "current"
PROMOTIONS = "promotions.jsonl"
COMPARISONS = "comparisons"
_LOCK = ".lock"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class RegistryError(ValueError):
    """A name or version that is not in the model directory, or a file that is not an artifact. `code`
    (not_in_service, unknown_version, unreadable_artifact, not_an_artifact) and `ctx` (its values) let an adapter
    say it in its own words (core.copy_es.registry_message); str() is the plain English message."""

    def __init__(self, message: str, code: str = "registry_error", **ctx: Any) -> None:
        super().__init__(message)
        self.code, self.ctx = code, ctx


class ModelUnavailable(RuntimeError):
    """The model `current` names cannot serve (missing or unreadable file, incompatible feature mapping or
    policy). It is refused, never replaced: the message names the model, the version and the directory.
    `reason` is plain English; `kind` (wrong_format, wrong_name, incompatible, unreadable, version_mismatch,
    none_in_service, not_loaded) and `ctx` let an adapter say it in its own words (core.copy_es.model_reason)."""

    def __init__(
        self,
        name: str,
        version: str | None,
        model_dir: Path,
        reason: str,
        kind: str = "other",
        ctx: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.version, self.model_dir, self.reason = name, version, Path(model_dir), reason
        self.kind, self.ctx = kind, dict(ctx or {})
        what = f"{name} {version}" if version else name
        super().__init__(f"model {what} under {model_dir} cannot serve: {reason}")


def safe(part: str) -> str:
    """A name or version as a directory name."""
    return _SAFE.sub("_", part)


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def training_fingerprint(training: dict[str, Any], data_sha256: str, schema: int) -> str:
    """What determines the fitted numbers: data, [pd.training] and feature schema (not the dialog mapping)."""
    blob = json.dumps({"data": data_sha256, "training": training, "schema": schema}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def pointer(model_dir: Path, name: str) -> Path:
    """The `current` file of `name` (what serving processes watch)."""
    return Path(model_dir) / safe(name) / CURRENT


def current_version(model_dir: Path, name: str) -> str | None:
    try:
        return pointer(model_dir, name).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def versions(model_dir: Path, name: str) -> list[str]:
    base = Path(model_dir) / safe(name)
    return sorted(p.name for p in base.iterdir() if (p / MODEL_FILE).is_file()) if base.is_dir() else []


def version_dir(model_dir: Path, name: str, version: str) -> Path:
    return Path(model_dir) / safe(name) / safe(version)


def read(model_dir: Path, name: str, version: str | None = None) -> dict[str, Any]:
    """The artifact `version` of `name` (default: the one in service)."""
    version = version or current_version(model_dir, name)
    if version is None:
        raise RegistryError(
            f"no model {name!r} in service under {model_dir}", "not_in_service", name=name, model_dir=str(model_dir)
        )
    return read_path(version_dir(model_dir, name, version) / MODEL_FILE)


def read_path(path: Path) -> dict[str, Any]:
    """The artifact of a version directory or of a model.json file."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(
            f"cannot read artifact {file}: {exc}", "unreadable_artifact", file=str(file), cause="os", errno=exc.errno
        ) from exc
    except json.JSONDecodeError as exc:
        message = f"cannot read artifact {file}: {exc}"
        where = {"line": exc.lineno, "column": exc.colno}
        raise RegistryError(message, "unreadable_artifact", file=str(file), cause="json", **where) from exc
    except UnicodeDecodeError as exc:
        message = f"cannot read artifact {file}: {exc}"
        raise RegistryError(message, "unreadable_artifact", file=str(file), cause="utf8") from exc
    if not isinstance(data, dict) or "format" not in data or "model_version" not in data:
        raise RegistryError(f"{file}: not a model artifact", "not_an_artifact", file=str(file))
    return data


def write(model_dir: Path, artifact: dict[str, Any], card: str | None = None) -> Path:
    """Write one version (once: same version, same numbers) and return its directory; `current` is untouched."""
    final = version_dir(model_dir, artifact["name"], artifact["model_version"])
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not (final / MODEL_FILE).is_file():
        shutil.rmtree(final)  # a broken leftover of the same version
    if not final.exists():
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
        try:
            (tmp / MODEL_FILE).write_text(json.dumps(artifact, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            if card is not None:
                (tmp / CARD_FILE).write_text(card, encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / MODEL_FILE).is_file():  # else another process wrote the same version: keep theirs
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


@contextlib.contextmanager
def _locked(model_dir: Path, name: str) -> Iterator[None]:
    base = Path(model_dir) / safe(name)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / _LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _promote_locked(
    model_dir: Path, name: str, version: str, *, by: str, reason: str, comparison: dict[str, Any] | None
) -> dict[str, Any]:
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "name": name,
        "from": current_version(model_dir, name),
        "to": version,
        "by": by,
        "reason": reason,
        "comparison": comparison,
    }
    base = Path(model_dir) / safe(name)
    _atomic_write(base / CURRENT, version + "\n")
    with open(base / PROMOTIONS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return record


def promote(
    model_dir: Path,
    name: str,
    version: str,
    *,
    by: str,
    reason: str,
    comparison: dict[str, Any] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Put `version` in service; returns the promotion record (also appended to promotions.jsonl).

    `check(artifact)` raises when the version could not serve (the caller's policy and code): such a version is
    refused before `current` moves, so the processes never meet it."""
    artifact = (
        read(model_dir, name, version) if (version_dir(model_dir, name, version) / MODEL_FILE).is_file() else None
    )
    if artifact is None:
        known = ", ".join(versions(model_dir, name)) or "none"
        raise RegistryError(
            f"no version {version!r} of {name!r} under {model_dir} (known: {known})",
            "unknown_version",
            name=name,
            version=version,
            model_dir=str(model_dir),
            known=versions(model_dir, name),
        )
    if check is not None:
        check(artifact)
    with _locked(model_dir, name):
        return _promote_locked(model_dir, name, version, by=by, reason=reason, comparison=comparison)


def promote_if_empty(model_dir: Path, name: str, version: str, *, by: str, reason: str) -> bool:
    """Promote `version` only when `name` has no version in service (the bootstrap); whether it did."""
    with _locked(model_dir, name):
        if current_version(model_dir, name) is not None:
            return False
        _promote_locked(model_dir, name, version, by=by, reason=reason, comparison=None)
        return True


def bootstrap(model_dir: Path, name: str, make: Callable[[], tuple[dict[str, Any], str | None]], *, by: str) -> str:
    """The version in service of `name`; on an empty registry, `make()` (artifact, card) is written and promoted
    first. Processes starting together train once: the lock is held while `make` runs."""
    with _locked(model_dir, name):
        version = current_version(model_dir, name)
        if version is not None:
            return version
        artifact, card = make()
        write(model_dir, artifact, card)
        _promote_locked(
            model_dir,
            name,
            artifact["model_version"],
            by=by,
            reason="bootstrap: empty registry, trained on the shipped data",
            comparison=None,
        )
        return str(artifact["model_version"])


def promotions(model_dir: Path, name: str) -> list[dict[str, Any]]:
    """The promotion records of `name`, oldest first."""
    path = Path(model_dir) / safe(name) / PROMOTIONS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def save_comparison(model_dir: Path, name: str, challenger: str, result: dict[str, Any]) -> Path:
    """Keep the last comparison of `challenger` so its promotion record can cite it."""
    folder = Path(model_dir) / safe(name) / COMPARISONS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe(challenger)}.json"
    _atomic_write(path, json.dumps(result, indent=2, ensure_ascii=False, default=float) + "\n")
    return path


def load_comparison(model_dir: Path, name: str, challenger: str) -> dict[str, Any] | None:
    path = Path(model_dir) / safe(name) / COMPARISONS / f"{safe(challenger)}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
