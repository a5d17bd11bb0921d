"""assessments keep the expected-loss inputs they were assessed with: product, lgd, exposure (EAD)

Backfill from the policy of record: every policy version shipped before this revision (up to 2026.11.1) had
`[pd] lgd = 0.45` and `ead_factor = 1.0` (the keys now live in `[products.auto]`), so older rows get
product 'auto', lgd 0.45 and exposure = requested amount × 1.0. Their stored `expected_loss` (the engine's own
figure at the time) is kept; a missing one is filled as PD × 0.45 × exposure. On PostgreSQL the covering
period index also includes expected_loss and exposure, which analytics now sum.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen values of the policy of record (migrations must not follow later code or a later policy file)
LGD_OF_RECORD = 0.45
EAD_FACTOR_OF_RECORD = 1.0
PRODUCT_OF_RECORD = "auto"
OLD_INCLUDE = ["decision", "pd", "credit_score", "requested_amount", "recommended_bank", "income_band", "tenure",
               "payroll_bank"]
NEW_INCLUDE = [*OLD_INCLUDE, "expected_loss", "exposure"]


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("product", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("lgd", sa.Float(), nullable=True))
        batch.add_column(sa.Column("exposure", sa.Float(), nullable=True))
    t = sa.table(
        "assessments",
        sa.column("product", sa.String),
        sa.column("lgd", sa.Float),
        sa.column("exposure", sa.Float),
        sa.column("requested_amount", sa.Float),
        sa.column("pd", sa.Float),
        sa.column("expected_loss", sa.Float),
    )
    op.execute(
        t.update()
        .where(t.c.lgd.is_(None))
        .values(
            product=PRODUCT_OF_RECORD,
            lgd=LGD_OF_RECORD,
            exposure=sa.func.coalesce(t.c.requested_amount, 0.0) * EAD_FACTOR_OF_RECORD,
        )
    )
    op.execute(
        t.update()
        .where(t.c.expected_loss.is_(None))
        .values(expected_loss=t.c.pd * LGD_OF_RECORD * sa.func.coalesce(t.c.requested_amount, 0.0) * EAD_FACTOR_OF_RECORD)
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_assessments_created_at", table_name="assessments")
        op.create_index("ix_assessments_created_at", "assessments", ["created_at"], postgresql_include=NEW_INCLUDE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_assessments_created_at", table_name="assessments")
        op.create_index("ix_assessments_created_at", "assessments", ["created_at"], postgresql_include=OLD_INCLUDE)
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("exposure")
        batch.drop_column("lgd")
        batch.drop_column("product")
