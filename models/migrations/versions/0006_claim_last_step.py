"""a claim remembers the number of the last workflow step projected onto it, so a projection that
arrives late (after a later step's) never moves its status backwards

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


def upgrade() -> None:
    op.add_column("claims", sa.Column("last_step", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("claims", "last_step")
