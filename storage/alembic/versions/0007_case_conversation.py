"""advisors' workspace (issue 14): the outcome and first answer of a case; case_messages, the stored conversation
of a case with the applicant and the outbox of what is sent to them (delivery state)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copies (migrations must not follow later code)
OUTCOMES = ("contactado", "solicitud_enviada", "no_interesado", "sin_respuesta")
STATES = ("received", "pending", "sending", "delivered", "retrying", "failed")
AUTHORS = ("applicant", "advisor", "system")


def upgrade() -> None:
    ts = storage.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("escalations") as batch:  # SQLite rebuilds the table for the CHECK
        batch.add_column(sa.Column("outcome", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("first_answer_at", ts, nullable=True))
        batch.create_check_constraint("outcome", f"outcome IS NULL OR outcome IN {OUTCOMES!r}")
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("surface", sa.String(length=16), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ts, nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", ts, nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint(f"state IN {STATES!r}", name=op.f("ck_case_messages_state")),
        sa.CheckConstraint(f"author IN {AUTHORS!r}", name=op.f("ck_case_messages_author")),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"],
                                name=op.f("fk_case_messages_escalation_id_escalations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_case_messages_author_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_case_messages_idempotency_key")),
    )  # fmt: skip
    op.create_index("ix_case_messages_escalation", "case_messages", ["escalation_id", "id"])
    op.create_index("ix_case_messages_state_next", "case_messages", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_case_messages_state_next", table_name="case_messages")
    op.drop_index("ix_case_messages_escalation", table_name="case_messages")
    op.drop_table("case_messages")
    with op.batch_alter_table("escalations") as batch:
        batch.drop_constraint("outcome", type_="check")
        batch.drop_column("first_answer_at")
        batch.drop_column("outcome")
