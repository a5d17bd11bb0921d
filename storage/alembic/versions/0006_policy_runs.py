"""policy_runs: replays and simulations analysts ask for through the API (status, policy, results)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("policy_hash", sa.String(length=64), nullable=False),
        sa.Column("policy_toml", sa.Text(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("progress", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.Column("changes_csv", sa.Text(), nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.CheckConstraint("kind IN ('replay', 'simulate')", name=op.f("ck_policy_runs_kind")),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_policy_runs_status")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_policy_runs_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_runs")),
    )
    op.create_index("ix_policy_runs_kind_status_finished", "policy_runs", ["kind", "status", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_policy_runs_kind_status_finished", table_name="policy_runs")
    op.drop_table("policy_runs")
