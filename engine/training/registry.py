"""Versioned model artifacts on disk and promotion: JSON only, no pickle.

Same layout as the applicant model's store (engine.pd.artifact), so one `promote` serves both kinds:
<model_dir>/<name>/<version>/model.json, and <model_dir>/<name>/current holding the version in service
(the champion). Every promotion is appended to <model_dir>/<name>/promotions.jsonl.

A report run writes its chosen model as a new version but leaves `current` alone unless there is none yet:
a challenger goes into service only through `asesor train promote`, after `asesor train compare`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_FILE = "model.json"
CURRENT = "current"
PROMOTIONS = "promotions.jsonl"
COMPARISONS = "comparisons"
SEED001_FORMAT = "asesor.seed001_pd"
APPLICANT_FORMAT = "asesor.applicant_pd"  # written by engine/training/applicant.py into engine.pd.artifact
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class RegistryError(ValueError):
    """A name or version that is not in the model directory, or a file that is not an artifact."""


def safe(part: str) -> str:
    return _SAFE.sub("_", part)


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def current_version(model_dir: Path, name: str) -> str | None:
    try:
        return (Path(model_dir) / safe(name) / CURRENT).read_text(encoding="utf-8").strip() or None
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
        raise RegistryError(f"no model {name!r} in service under {model_dir}")
    return read_path(version_dir(model_dir, name, version) / MODEL_FILE)


def read_path(path: Path) -> dict[str, Any]:
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"cannot read artifact {file}: {exc}") from exc
    if not isinstance(data, dict) or "format" not in data or "model_version" not in data:
        raise RegistryError(f"{file}: not a model artifact")
    return data


def write(model_dir: Path, artifact: dict[str, Any], *, make_current_if_none: bool = True) -> Path:
    """Write one version (written once: same version, same numbers); returns its directory."""
    final = version_dir(model_dir, artifact["name"], artifact["model_version"])
    final.parent.mkdir(parents=True, exist_ok=True)
    if not (final / MODEL_FILE).is_file():
        final.mkdir(exist_ok=True)
        _atomic_write(final / MODEL_FILE, json.dumps(artifact, indent=2, ensure_ascii=False) + "\n")
    if make_current_if_none and current_version(model_dir, artifact["name"]) is None:
        promote(model_dir, artifact["name"], artifact["model_version"], reason="primera versión")
    return final


def promote(
    model_dir: Path, name: str, version: str, reason: str = "", comparison: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Put `version` in service; returns the promotion record (also appended to promotions.jsonl)."""
    if not (version_dir(model_dir, name, version) / MODEL_FILE).is_file():
        known = ", ".join(versions(model_dir, name)) or "none"
        raise RegistryError(f"no version {version!r} of {name!r} under {model_dir} (known: {known})")
    base = Path(model_dir) / safe(name)
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "name": name,
        "from": current_version(model_dir, name),
        "to": version,
        "reason": reason,
        "comparison": comparison,
    }
    _atomic_write(base / CURRENT, version + "\n")
    with open(base / PROMOTIONS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record


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
        comparison: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return comparison
    except (OSError, json.JSONDecodeError):
        return None


def envelope(body: dict[str, Any], *, name: str, code_version: str, data_file: str, rows: int) -> dict[str, Any]:
    """A seed-001 study's chosen model as a versioned artifact: version = name, data, code, fingerprint."""
    fp = fingerprint(body)
    return {
        "format": SEED001_FORMAT,
        "format_version": 1,
        "name": name,
        "model_version": f"{name}-{body['data_sha256'][:8]}-{safe(code_version)}-{fp[:8]}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version,
        "data": {"file": data_file, "sha256": body["data_sha256"], "rows": rows, "dataset": body["dataset"]},
        "fingerprint": fp,
        **body,
    }
