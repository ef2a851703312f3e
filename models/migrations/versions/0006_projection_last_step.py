"""every row a workflow projects onto remembers the number of the last step projected, so a step
written late (after a later one) never moves its status backwards

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("claims", "enrollments", "district_filings", "registrations", "card_losses")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("last_step", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "last_step")
