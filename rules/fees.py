"""Fees in fen (1 CNY = 100 fen) and their split between the city federation, the district and
the grassroots union."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from models.programme import FeeSplit


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split_fee(total_fen: int, split: FeeSplit) -> tuple[int, int, int]:
    """City, district and grassroots shares in fen; rounding goes to the grassroots share."""
    city = int((Decimal(total_fen) * split.city / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    district = int((Decimal(total_fen) * split.district / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if split.grassroots == 0:  # nothing for the grassroots union: rounding goes to the district
        return city, total_fen - city, 0
    return city, district, total_fen - city - district
