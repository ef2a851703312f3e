"""extensions of a programme year's dates (延期): what, the new last day, for which district,
who and why

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("payment_deadline", "district_window", "submission_window", "registration_window")


def upgrade() -> None:
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum(*KINDS, name="extensionkind", native_enum=False, length=32), nullable=False),
        sa.Column("district_code", sa.String(length=3), nullable=True),
        sa.Column("old_date", sa.Date(), nullable=False),
        sa.Column("new_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_by_name", sa.String(length=60), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_extensions_year", "extensions", ["year", "kind"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_extensions_year", table_name="extensions")
    op.drop_table("extensions")
