"""Cell normalisation and the value parsers every import and correction uses."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta

_SPACE_RE = re.compile(r"\s+")
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
_COMPACT_MONTH_RE = re.compile(r"^(\d{4})(\d{2})$")
_EXCEL_EPOCH = date(1899, 12, 30)
_TRUE = frozenset({"是", "y", "yes", "true", "1", "有"})
_FALSE = frozenset({"否", "n", "no", "false", "0", "无"})
LONG_TERM = frozenset({"长期", "长期有效", "永久", "long-term", "long_term", "longterm"})


class FieldError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def clean(value: object) -> str | date | None:
    """Normalise one cell: NFKC (full-width digits and letters, ideographic spaces), trimmed,
    inner whitespace folded; dates stay dates; empty becomes None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float):
        if value.is_integer():
            value = int(value)
        text = str(value)
    elif isinstance(value, str):
        text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    else:
        text = str(value)
    text = _SPACE_RE.sub(" ", text).strip()
    return text or None


def compact(text: str) -> str:
    """Remove every space (ID numbers, phones)."""
    return text.replace(" ", "")


def parse_date(value: str | date, *, excel_serials: bool = True) -> date:
    if isinstance(value, date):
        return value
    m = _DATE_RE.match(value) or _COMPACT_DATE_RE.match(value)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise FieldError("invalid_date", f"日期“{value}”不存在") from None
    if excel_serials and value.isdigit() and 20000 <= int(value) <= 80000:
        return _EXCEL_EPOCH + timedelta(days=int(value))
    raise FieldError("invalid_date", f"日期“{value}”无法识别，请填写如 2024-01-31、2024/1/31 或 2024年1月31日")


def parse_month(value: str | date) -> str:
    """A month as ``YYYY-MM`` from 2024-01, 2024/1, 2024年1月, 202401 or a full date."""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    m = _MONTH_RE.match(value) or _COMPACT_MONTH_RE.match(value)
    if m:
        year, month = int(m[1]), int(m[2])
        if year >= 1900 and 1 <= month <= 12:
            return f"{year:04d}-{month:02d}"
        raise FieldError("invalid_month", f"年月“{value}”不存在")
    try:
        d = parse_date(value, excel_serials=False)
    except FieldError:
        raise FieldError("invalid_month", f"年月“{value}”无法识别，请填写如 2024-01 或 2024年1月") from None
    return f"{d.year:04d}-{d.month:02d}"


def parse_bool(value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise FieldError("invalid_value", f"“{value}”应为“是”或“否”")


_CJK_RE = re.compile("[\u4e00-\u9fff\u3400-\u4dbf]")


def chinese_char_count(text: str) -> int:
    return len(_CJK_RE.findall(text))


def in_gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True
