"""Adapter for `asesor train applicant --from-db`: the bank's own outcomes, read through storage.

The engine never imports storage. This module reads `loan_outcomes` (loaded by `asesor etl`) and hands the
training code what it already takes: a German-Credit-format CSV, written to a temporary file in a stable row
order so the same outcomes give the same data hash and the same model version.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any

# the applicant model reads German Credit's columns; an outcome row keeps its validated source row in
# `features`, and `defaulted` is the normalised outcome
TARGET = "creditability"


class NoOutcomesError(RuntimeError):
    pass


def outcome_rows(source: str, database_url: str | None = None) -> list[dict[str, Any]]:
    """Validated source rows of `loan_outcomes` for `source`, in load order, with the target re-labelled."""
    from sqlalchemy import select

    from storage.models import LoanOutcome
    from storage.repositories import Storage

    storage = Storage(database_url)
    try:
        with storage.read() as s:
            rows = s.execute(
                select(LoanOutcome.features, LoanOutcome.defaulted)
                .where(LoanOutcome.source == source)
                .order_by(LoanOutcome.id)
            ).all()
    finally:
        storage.dispose()
    return [{**dict(features), TARGET: "bad" if defaulted else "good"} for features, defaulted in rows]


def export_outcomes_csv(source: str, database_url: str | None = None, directory: Path | None = None) -> Path:
    """Write the outcomes of `source` as a CSV the applicant training reads; returns its path."""
    rows = outcome_rows(source, database_url)
    if not rows:
        raise NoOutcomesError(f"no loan_outcomes rows for source {source!r}: load them first with `asesor etl`")
    columns = [c for c in rows[0] if c != TARGET] + [TARGET]
    out_dir = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="asesor-outcomes-"))
    path = out_dir / f"loan_outcomes-{source}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path
