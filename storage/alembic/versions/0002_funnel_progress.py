"""funnel_progress: first time each applicant reached each funnel step (backfilled from events)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 15:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUESTIONS = ("trabajo_tiempo", "banco_nomina", "historial_crediticio", "creditos_vigentes", "atrasos_12_meses",
             "enganche", "prioridad_financiamiento", "ingreso_mensual")
# frozen copy of storage.models.FUNNEL_COLUMNS at this revision (migrations must not follow later code)
STEPS: list[tuple[str, str | None, str]] = [
    ("BotStarted", None, "started_at"),
    ("ConsentGiven", None, "consent_at"),
    ("ProfileCompleted", None, "profile_at"),
    *[("QuestionAnswered", q, f"q_{q}_at") for q in QUESTIONS],
    ("PerfilacionBancariaComplete", None, "complete_at"),
    ("ResultShown", None, "result_at"),
    ("HandoffOpened", None, "handoff_at"),
    ("FinancingRequestSubmitted", None, "request_at"),
    ("EscalationCreated", None, "escalated_at"),
]


def upgrade() -> None:
    ts = storage.types.UTCDateTime(timezone=True)
    op.create_table(
        "funnel_progress",
        sa.Column("user_key", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", ts, nullable=False),
        sa.Column("last_seen_at", ts, nullable=False),
        *[sa.Column(col, ts, nullable=True) for _, _, col in STEPS],
        sa.PrimaryKeyConstraint("user_key", name=op.f("pk_funnel_progress")),
    )
    with op.batch_alter_table("funnel_progress", schema=None) as batch_op:
        batch_op.create_index("ix_funnel_progress_first_seen", ["first_seen_at"], unique=False)

    # backfill from the events already stored
    ev = sa.table("events", sa.column("user_key"), sa.column("name"), sa.column("step"), sa.column("occurred_at"))
    cols = [sa.func.min(ev.c.occurred_at), sa.func.max(ev.c.occurred_at)]
    for name, step, _ in STEPS:
        cond = ev.c.name == name if step is None else sa.and_(ev.c.name == name, ev.c.step == step)
        cols.append(sa.func.min(sa.case((cond, ev.c.occurred_at), else_=None)))
    fp = sa.table("funnel_progress", *[sa.column(c) for c in ["user_key", "first_seen_at", "last_seen_at",
                                                               *[c for _, _, c in STEPS]]])
    op.execute(fp.insert().from_select(list(fp.c.keys()), sa.select(ev.c.user_key, *cols).group_by(ev.c.user_key)))


def downgrade() -> None:
    with op.batch_alter_table("funnel_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_funnel_progress_first_seen")
    op.drop_table("funnel_progress")
