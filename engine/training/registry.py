"""The seed-001 study's chosen model as a registry artifact (the store itself: engine.pd.registry, one for every
model kind, so one `asesor train promote` serves both).

A report run writes its chosen model as a new version but leaves `current` alone unless there is none yet:
a challenger goes into service only through `asesor train promote`, after `asesor train compare`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.pd.registry import APPLICANT_FORMAT, fingerprint, safe

__all__ = ["APPLICANT_FORMAT", "SEED001_FORMAT", "envelope"]

SEED001_FORMAT = "asesor.seed001_pd"


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
