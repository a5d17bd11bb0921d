"""sessions and abuse (issue 13): users.token_version (logout and a password change revoke older tokens); one
financing request per assessment (unique financing_requests.assessment_id)

Earlier versions stored a request per handoff link, so an assessment may already have several: the oldest keeps
the link to its assessment, the later ones keep their folio and contact but lose `assessment_id` (set to NULL, as
an erased assessment leaves them), so the unique index can be built.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE financing_requests SET assessment_id = NULL WHERE assessment_id IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM financing_requests WHERE assessment_id IS NOT NULL GROUP BY assessment_id)"
    )
    op.create_index("uq_financing_requests_assessment_id", "financing_requests", ["assessment_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_financing_requests_assessment_id", table_name="financing_requests")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
