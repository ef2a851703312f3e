"""protection types by card (the 2014 rules): each roster member's type and coverage, and an
enrollment's fee per type

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("enrollment_members", sa.Column("protection_type", sa.String(length=8), nullable=True))
    op.add_column("enrollment_members", sa.Column("coverage_start", sa.Date(), nullable=True))
    op.add_column("enrollment_members", sa.Column("coverage_end", sa.Date(), nullable=True))
    op.add_column("enrollments", sa.Column("fee_lines", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("enrollments", "fee_lines")
    op.drop_column("enrollment_members", "coverage_end")
    op.drop_column("enrollment_members", "coverage_start")
    op.drop_column("enrollment_members", "protection_type")
