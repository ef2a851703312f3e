"""One cell of a member row: text normalisation, PostgreSQL COPY text, the parsers of enumerated
and yes/no cells, and the checks of a name, an address and a phone number.

A parsed cell is ``(value, COPY text, problem)``; the column checks in :mod:`rules.member_frame`
apply these once per distinct value (enumerated cells) or per row (personal cells).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

from models.states import EmploymentStatus
from rules.fields import FieldError, chinese_char_count, clean, compact, in_gb2312, parse_bool, parse_month
from rules.member_columns import BY_KEY
from rules.member_rows import (
    ISO_MONTH_RE,
    NAME_DOTS,
    NAME_RE,
    NOT_INSURED,
    PHONE_RE,
    RESIDENT,
    Problem,
    check_past_date,
    check_phone,
)

# A parsed cell: (value, COPY text, problem)
Parsed = tuple[Any, str, Problem | None]
NULL = "\\N"
_DEFAULTS: dict[str, str] = {
    "id_type": RESIDENT,
    "card_type": "debit",
    "affiliation": "enterprise",
    "employment_status": EmploymentStatus.IN_SERVICE.value,
}


def normalise_text(s: str) -> str:
    """Trimmed, NFKC (full-width digits and letters, ideographic spaces), inner whitespace folded."""
    s = s.strip()
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s).strip()
    if "  " in s or "\t" in s or "\n" in s or "\r" in s:
        s = " ".join(s.split())
    return s


def copy_text(value: Any) -> str:
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return NULL
    if value.__class__ is str:
        return _escaped(value)
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escaped(value: str) -> str:
    """A text in COPY's text format: a tab or newline inside a value must not end the field."""
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], value) if _SPECIAL.search(value) else value


def _plain(value: str) -> bool:
    return _SPECIAL.search(value) is None


_DATES = frozenset({"birth_date", "id_expiry"})
_FLAGS = frozenset({"id_long_term", "special_channel"})


def column_texts(key: str, column: list[Any]) -> list[str]:
    """COPY text of a column whose type is known (a comprehension, not a call per cell)."""
    if key in _DATES:
        return [d.isoformat() if d is not None else NULL for d in column]
    if key in _FLAGS:
        return ["t" if b else "f" for b in column]
    return [v if v is not None and _plain(v) else copy_text(v) for v in column]


def cell_problem(key: str, code: str, message: str) -> Problem:
    return Problem(BY_KEY[key].header, code, message)


# An ID number or phone that Excel stored as a number: read from an xlsx number cell, or as a CSV
# saved from one (``3.10105E+17``). Its digits are lost or at risk: never stored, always explained.
AS_NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?E[+-]?\d+")
_NUMBER_CELL = "Excel 将此列保存为数字（{}），请把该列设为文本格式后重新填写"


def number_cell(key: str, text: str, found: list[Problem]) -> bool:
    if not AS_NUMBER.fullmatch(text):
        return False
    found.append(cell_problem(key, "number_cell", _NUMBER_CELL.format(text)))
    return True


def phone_cell(text: str, found: list[Problem]) -> str | None:
    if len(text) == 11 and PHONE_RE.match(text):
        return text
    if number_cell("phone", compact(text).upper(), found):
        return None
    if not text:
        found.append(cell_problem("phone", "required", "手机号码不能为空"))
        return None
    try:
        return check_phone(text)
    except FieldError as exc:
        found.append(cell_problem("phone", exc.code, exc.message))
        return None


def parse_choice(key: str, raw: str) -> Parsed:
    text = normalise_text(raw)
    if not text:
        default = _DEFAULTS.get(key)
        return default, default or NULL, None
    column = BY_KEY[key]
    found = column.choices.get(text) or column.choices.get(text.lower())
    if found is None:
        allowed = "、".join(column.allowed[:12])
        return None, NULL, cell_problem(key, "invalid_value", f"{column.header}“{text}”不在允许值内（{allowed}）")
    return found, found, None


def parse_flag(key: str, raw: str) -> Parsed:
    text = normalise_text(raw)
    if not text:
        return None, NULL, None
    try:
        value = parse_bool(text)
    except FieldError as exc:
        return None, NULL, cell_problem(key, exc.code, exc.message)
    return value, "t" if value else "f", None


def check_name(text: str) -> tuple[str | None, Problem | None, bool]:
    """(name, problem, needs the special channel for rare characters)."""
    if not text:
        return None, cell_problem("name", "required", "姓名不能为空"), False
    name = " ".join(text.translate(NAME_DOTS).split())
    if len(name) < 2 or len(name) > 60 or not NAME_RE.match(name):
        return name, cell_problem("name", "invalid_name", "姓名只能包含汉字、字母、间隔号“·”，长度2至60"), False
    return name, None, not name.isascii() and not in_gb2312(name)


def check_address(text: str) -> tuple[str | None, Problem | None]:
    if not text:
        return None, cell_problem("work_address", "required", "工作单位详细地址不能为空")
    if chinese_char_count(text) <= 6:
        return text, cell_problem("work_address", "work_address_too_short", "工作单位详细地址须超过6个汉字")
    return text, None


def as_text(value: Any) -> str:
    cleaned = clean(value)
    if cleaned is None:
        return ""
    return cleaned.isoformat() if isinstance(cleaned, date) else cleaned


_MONTHS = ("work_start_month", "union_join_month", "social_insurance_start")
_BOOLS = ("rural_household", "dispatched_worker", "labour_contract")


def cell_parsers(keys: tuple[str, ...], today: date) -> dict[str, Callable[[str], Parsed]]:
    """The parser of each enumerated or date-like column (applied once per distinct value)."""
    current_month = f"{today.year:04d}-{today.month:02d}"

    def month(key: str, raw: str) -> Parsed:
        text = normalise_text(raw)
        if not text or (key == "social_insurance_start" and text in NOT_INSURED):
            return None, NULL, None
        try:
            value = text if ISO_MONTH_RE.match(text) else parse_month(text)
        except FieldError as exc:
            return None, NULL, cell_problem(key, exc.code, exc.message)
        if value > current_month:
            return None, NULL, cell_problem(key, "date_in_future", f"{BY_KEY[key].header}不能晚于本月")
        return value, value, None

    def past_date(key: str, raw: str) -> Parsed:
        text = normalise_text(raw)
        if not text:
            return None, NULL, None
        try:
            value = check_past_date(text, today, "退休日期")
        except FieldError as exc:
            return None, NULL, cell_problem(key, exc.code, exc.message)
        return value, value.isoformat(), None

    def parser(key: str) -> Callable[[str], Parsed]:
        if key in _MONTHS:
            return lambda raw: month(key, raw)
        if key in _BOOLS:
            return lambda raw: parse_flag(key, raw)
        if key == "retirement_date":
            return lambda raw: past_date(key, raw)
        return lambda raw: parse_choice(key, raw)

    return {key: parser(key) for key in keys}
