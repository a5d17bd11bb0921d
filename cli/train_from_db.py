"""Adapters of `asesor train applicant --from-db` (the bank's own outcomes) and `asesor train psi --from-db`
(the applicants assessed in a period), read through storage.

The engine never imports storage. This module reads `loan_outcomes` (loaded by `asesor etl load`) and hands
the training code what it already takes: a CSV in the source's own columns (German Credit's, for the applicant
model), rows in load order so the same outcomes give the same data hash and the same model version. The CSV
is kept under <data_dir>/training_data/ as the snapshot the artifact's data hash refers to.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from core import copy_es as copy

# an outcome row keeps its validated source row in `features`; `defaulted` is the normalised outcome and is
# written back as German Credit's target
TARGET = "creditability"


class OutcomesError(RuntimeError):
    """No outcomes to train on, or a database that cannot be read."""


def outcome_rows(source: str, database_url: str | None = None) -> list[dict[str, Any]]:
    """Validated source rows of `loan_outcomes` for `source`, in load order, with the target re-labelled."""
    from storage import training_reads

    try:
        rows = training_reads.loan_outcomes(source, database_url)
    except training_reads.ReadError as exc:
        raise OutcomesError(copy.ERR_OUTCOMES_UNREADABLE.format(reason=exc)) from exc
    return [{**features, TARGET: "bad" if defaulted else "good"} for features, defaulted in rows]


def export_outcomes_csv(source: str, directory: Path, database_url: str | None = None) -> Path:
    """Write the outcomes of `source` as a CSV the applicant training reads; returns its path."""
    rows = outcome_rows(source, database_url)
    if not rows:
        raise OutcomesError(copy.ERR_NO_OUTCOMES.format(source=source))
    columns = [c for c in rows[0] if c != TARGET] + [TARGET]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"loan_outcomes-{source}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def population_counts(
    reference: dict[str, Any],
    model_version: str,
    since: datetime | None,
    until: datetime | None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Assessments of [since, until) made by `model_version`, counted per bin of the model's training reference
    (storage.analytics.population_counts, the query the dashboard and /metrics use)."""
    from storage import training_reads

    try:
        return training_reads.population_counts(reference, model_version, since, until, database_url)
    except training_reads.ReadError as exc:
        raise OutcomesError(copy.ERR_ASSESSMENTS_UNREADABLE.format(reason=exc)) from exc
