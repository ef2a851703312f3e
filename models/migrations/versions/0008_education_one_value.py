"""education 高中、技校 written 高中/技校: one value, which a list of values joined by 、 does not
split in two (imports still accept the old spelling)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE members SET education = '高中/技校' WHERE education = '高中、技校'")


def downgrade() -> None:
    op.execute("UPDATE members SET education = '高中、技校' WHERE education = '高中/技校'")
