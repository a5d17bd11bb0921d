"""analysts' view (issue 15): down payment and the PD model's inputs on assessments; origination date, linked
assessment and predicted PD on loan outcomes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies (migrations must not follow later code): the covering index's columns before and after
INCLUDE_0004 = [
    "decision",
    "pd",
    "credit_score",
    "requested_amount",
    "recommended_bank",
    "income_band",
    "tenure",
    "payroll_bank",
    "expected_loss",
    "exposure",
]
INCLUDE_0005 = [*INCLUDE_0004, "down_payment"]


def upgrade() -> None:
    ts = storage.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("down_payment", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("pd_features", storage.types.JSONType, nullable=True))
    with op.batch_alter_table("loan_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessment_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("originated_at", ts, nullable=True))
        batch_op.add_column(sa.Column("predicted_pd", sa.Float(), nullable=True))

    # the down payment answer of the assessments already stored (their PD inputs were not recorded: NULL)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE assessments SET down_payment = request -> 'answers' ->> 'enganche' WHERE request IS NOT NULL"
        )
        op.drop_index("ix_assessments_created_at", table_name="assessments")
        op.create_index("ix_assessments_created_at", "assessments", ["created_at"], postgresql_include=INCLUDE_0005)
    else:
        op.execute(
            "UPDATE assessments SET down_payment = json_extract(request, '$.answers.enganche') "
            "WHERE request IS NOT NULL"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_assessments_created_at", table_name="assessments")
        op.create_index("ix_assessments_created_at", "assessments", ["created_at"], postgresql_include=INCLUDE_0004)
    with op.batch_alter_table("loan_outcomes", schema=None) as batch_op:
        batch_op.drop_column("predicted_pd")
        batch_op.drop_column("originated_at")
        batch_op.drop_column("assessment_id")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_column("pd_features")
        batch_op.drop_column("down_payment")
