"""assessments(created_at) becomes a covering index on PostgreSQL (INCLUDE the analytics columns)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 16:05:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCLUDE = ["decision", "pd", "credit_score", "requested_amount", "recommended_bank", "income_band", "tenure",
           "payroll_bank"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no INCLUDE; its plain index stays as it is
    op.drop_index("ix_assessments_created_at", table_name="assessments")
    op.create_index("ix_assessments_created_at", "assessments", ["created_at"], postgresql_include=INCLUDE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_assessments_created_at", table_name="assessments")
    op.create_index("ix_assessments_created_at", "assessments", ["created_at"])
