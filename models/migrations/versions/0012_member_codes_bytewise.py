"""member codes compared byte by byte: member_no, id_number and phone in collation "C"

Their indexes are what a member import's COPY maintains; a locale-aware comparison of digits
costs about an eighth of the import's insert and orders them no differently.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("member_no", 10), ("id_number", 32), ("phone", 11))


def upgrade() -> None:
    for name, length in _COLUMNS:
        op.execute(f'ALTER TABLE members ALTER COLUMN {name} TYPE varchar({length}) COLLATE "C"')


def downgrade() -> None:
    for name, length in _COLUMNS:
        op.execute(f'ALTER TABLE members ALTER COLUMN {name} TYPE varchar({length}) COLLATE "default"')
