"""audit rows of workflow transitions carry the transition's number, written once

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("step_no", sa.Integer(), nullable=True))
    op.create_index(
        "ux_audit_step",
        "audit_events",
        ["entity_type", "entity_id", "step_no"],
        unique=True,
        postgresql_where=sa.text("step_no IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_audit_step", table_name="audit_events")
    op.drop_column("audit_events", "step_no")
