"""PSI population counts: PostgreSQL's one-pass query (width_bucket, GROUPING SETS) gives exactly the bins of the
portable query (a CASE per edge over materialised values), values on the edges, missing inputs and the score
included; and both give what plain Python counts over the same rows."""

from __future__ import annotations

import bisect
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from storage.analytics import Analytics, Filters
from storage.models import Assessment
from storage.repositories import Storage

T0 = datetime(2026, 11, 1, tzinfo=UTC)
REFERENCE: dict[str, dict[str, Any]] = {
    "credit_history": {"edges": [0.0, 1.0, 2.0, 3.0], "shares": [0.2] * 5},
    "duration": {"edges": [6.0, 12.0, 18.5, 24.0, 36.0], "shares": [1 / 6] * 6},
    "age": {"edges": [], "shares": [1.0]},
    "score": {"edges": [450.0 + 40 * i for i in range(9)], "shares": [0.1] * 10},
}


def _rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        features: dict[str, float] = {"credit_history": float(rng.randint(0, 4)), "age": rng.uniform(18, 75)}
        if rng.random() > 0.1:  # sometimes an input the model did not record
            features["duration"] = rng.choice([6.0, 12.0, 18.5, 24.0, 36.0, rng.uniform(1, 72)])
        rows.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "created_at": T0 + timedelta(hours=i),
                "channel": "api",
                "policy_version": "p",
                "model_version": "m1" if i % 5 else "m0",
                "decision": "revisar",
                "pd": 0.1,
                "credit_score": rng.choice([450, 490, 530, rng.randint(300, 900)]),
                "pd_features": None if i % 17 == 0 else features,
                "result": {},
            }
        )
    return rows


def _by_hand(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    counts = {n: [0] * len(r["shares"]) for n, r in REFERENCE.items()}
    for row in rows:
        if row["pd_features"] is None:
            continue
        for n, r in REFERENCE.items():
            v = float(row["credit_score"]) if n == "score" else row["pd_features"].get(n)
            if v is not None:
                counts[n][bisect.bisect_left(r["edges"], v)] += 1  # edges < v: the bin (e_i, e_i+1] holding v
    return counts


def test_population_counts_match_by_hand(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(random.Random(4), 600)
    with storage.engine.begin() as conn:
        conn.execute(insert(Assessment), rows)
    an = Analytics(storage.engine)
    period = Filters(start=T0 + timedelta(hours=100), end=T0 + timedelta(hours=450))
    chosen = [
        r for r in rows if r["model_version"] == "m1" and 100 <= (r["created_at"] - T0).total_seconds() / 3600 < 450
    ]
    got = an.population_counts(REFERENCE, period, model_version="m1")
    assert got["counts"] == _by_hand(chosen)
    assert got["assessments"] == sum(1 for r in chosen if r["pd_features"] is not None)
    assert got["without_features"] == sum(1 for r in chosen if r["pd_features"] is None) > 0
    everyone = an.population_counts(REFERENCE)
    assert everyone["counts"] == _by_hand(rows)
    if storage.engine.dialect.name == "postgresql":  # the portable query on PostgreSQL: the same figures
        monkeypatch.setattr(Analytics, "_pg_bin_counts", staticmethod(Analytics._bin_counts))
        assert an.population_counts(REFERENCE, period, model_version="m1") == got
        assert an.population_counts(REFERENCE) == everyone
