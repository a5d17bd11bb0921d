"""funnel_step_seconds and funnel_step_histogram: each applicant's seconds per timed funnel step and their counts
per cohort day and bucket, so time per step needs no sort at query time (issue 15, speed); backfilled from
funnel_progress. ix_assessments_model_created: the PSI counts of a model version's period from an index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies (migrations must not follow later code): storage.models.TIMED_STEPS, storage.step_seconds
QUESTIONS = (
    "trabajo_tiempo",
    "banco_nomina",
    "historial_crediticio",
    "creditos_vigentes",
    "atrasos_12_meses",
    "enganche",
    "prioridad_financiamiento",
    "ingreso_mensual",
)
ORDER = [
    "started_at",
    "consent_at",
    "profile_at",
    *[f"q_{q}_at" for q in QUESTIONS],
    "complete_at",
    "result_at",
    "handoff_at",
    "request_at",
]


def _epoch(col: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"date_part('epoch', {col})"
    return f"((julianday({col}) - 2440587.5) * 86400.0)"


def _floor(expr: str, dialect: str) -> str:
    return f"CAST(FLOOR({expr}) AS INTEGER)" if dialect == "postgresql" else f"CAST({expr} AS INTEGER)"


def _bucket(sec: str, d: str) -> str:
    return (
        f"CASE WHEN {sec} < 120 THEN {_floor(sec, d)} "
        f"WHEN {sec} < 1200 THEN 120 + {_floor(f'(({sec}) - 120) / 10', d)} "
        f"WHEN {sec} < 86400 THEN 228 + {_floor(f'(({sec}) - 1200) / 600', d)} ELSE 370 END"
    )


def upgrade() -> None:
    ts = storage.types.UTCDateTime(timezone=True)
    op.create_table(
        "funnel_step_seconds",
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=48), nullable=False),
        sa.Column("first_seen_at", ts, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_key", "step", name=op.f("pk_funnel_step_seconds")),
    )
    op.create_index(
        "ix_funnel_step_seconds_bucket",
        "funnel_step_seconds",
        ["step", "bucket", "seconds"],
        postgresql_include=["first_seen_at"],
    )
    op.create_table(
        "funnel_step_histogram",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=48), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("applicants", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "step", "bucket", name=op.f("pk_funnel_step_histogram")),
    )
    op.create_index(
        "ix_assessments_model_created",
        "assessments",
        ["model_version", "created_at"],
        postgresql_include=["credit_score", "pd_features"],
    )
    d = op.get_bind().dialect.name
    for before, after in itertools.pairwise(ORDER):
        sec = f"({_epoch(after, d)} - {_epoch(before, d)})"
        op.execute(
            "INSERT INTO funnel_step_seconds (user_key, step, first_seen_at, day, seconds, bucket) "
            f"SELECT user_key, '{after}', first_seen_at, {_floor(_epoch('first_seen_at', d) + ' / 86400.0', d)}, "
            f"{sec}, {_bucket(sec, d)} FROM funnel_progress WHERE {after} >= {before}"
        )
    op.execute(
        "INSERT INTO funnel_step_histogram (day, step, bucket, applicants) "
        "SELECT day, step, bucket, count(*) FROM funnel_step_seconds GROUP BY day, step, bucket"
    )


def downgrade() -> None:
    op.drop_index("ix_assessments_model_created", table_name="assessments")
    op.drop_table("funnel_step_histogram")
    op.drop_index("ix_funnel_step_seconds_bucket", table_name="funnel_step_seconds")
    op.drop_table("funnel_step_seconds")
