"""Column helpers shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """Store a StrEnum by its value in a VARCHAR column (plain text, COPY-friendly)."""
    return sa.Enum(enum, native_enum=False, values_callable=lambda e: [m.value for m in e], length=32)
