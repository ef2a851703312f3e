"""Amounts: kept in integer fen; shown in JSON as one plain decimal string, for people with separators.

JSON answers (API views, callbacks): ``amount(1000000) == "10000.00"``; two places, no separators.
Documents, sheets, pages and the texts people read: ``yuan(1000000) == "10,000.00"``.
"""

from __future__ import annotations

from decimal import Decimal


def amount(fen: int) -> str:
    """Integer fen as the JSON amount: 123456 -> "1234.56"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def yuan(fen: int) -> str:
    """Integer fen for people, with thousands separators: 123456 -> "1,234.56"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def decimal_amount(value: Decimal) -> str:
    """A CNY amount held as a Decimal, as the JSON amount: Decimal("98.8") -> "98.80"."""
    return f"{value:.2f}"
