"""Row rules for member imports and corrections: one cleaned record or every problem of a row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from models.states import IdType
from rules.fields import (
    LONG_TERM,
    FieldError,
    chinese_char_count,
    compact,
    parse_date,
)

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
NAME_RE = re.compile(r"^[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0003134aA-Za-z·.\- ]+$")
NAME_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "．": "·", "∙": "·"})
MAX_ID_VALIDITY_YEARS = 20
LONG_TERM_MIN_AGE = 46

# The member fields a validated row provides, in COPY order.
RECORD_FIELDS: tuple[str, ...] = (
    "name",
    "id_type",
    "id_number",
    "id_expiry",
    "id_long_term",
    "gender",
    "birth_date",
    "ethnicity",
    "nationality",
    "political_status",
    "education",
    "title_level",
    "phone",
    "household_registration",
    "contact_address",
    "work_address",
    "work_start_month",
    "union_join_month",
    "social_insurance_start",
    "social_insured",
    "rural_household",
    "dispatched_worker",
    "labour_contract",
    "occupation",
    "card_type",
    "employment_status",
    "retirement_date",
    "deceased_date",
    "affiliation",
    "special_channel",
    "special_reasons",
)
NOT_INSURED = frozenset({"未参加", "无", "none"})
ISO_MONTH_RE = re.compile(r"^(19|20)\d\d-(0[1-9]|1[0-2])$")
RESIDENT = IdType.RESIDENT_ID.value


@dataclass(frozen=True, slots=True)
class Problem:
    column: str | None  # the Chinese header, or None for the whole row
    code: str
    message: str


def years_later(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def check_phone(value: str) -> str:
    phone = compact(value).replace("-", "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE_RE.match(phone):
        raise FieldError("invalid_phone", f"手机号码“{value}”应为以1开头的11位数字")
    return phone


def check_work_address(value: str) -> str:
    if chinese_char_count(value) <= 6:
        raise FieldError("work_address_too_short", "工作单位详细地址须超过6个汉字")
    return value


def check_id_expiry(value: str | date, today: date, birth: date | None) -> tuple[date | None, bool]:
    """(expiry, long_term) after the expiry rules; birth is known for mainland IDs."""
    if isinstance(value, str) and value.lower() in LONG_TERM:
        if birth is not None and age_on(birth, today) < LONG_TERM_MIN_AGE:
            raise FieldError("id_long_term_too_young", "未满46周岁的居民身份证不会是长期有效，请核对证件有效期")
        return None, True
    try:
        expiry = parse_date(value)
    except FieldError as exc:
        raise FieldError("invalid_id_expiry", exc.message + "，或填写“长期”") from None
    if expiry <= today:
        raise FieldError("id_expired", f"证件已于{expiry.isoformat()}过期，请核对或更新证件有效期")
    if expiry > years_later(today, MAX_ID_VALIDITY_YEARS):
        raise FieldError("id_expiry_too_far", f"证件有效期{expiry.isoformat()}超过20年，请核对")
    return expiry, False


def check_past_date(value: str | date, today: date, label: str) -> date:
    d = parse_date(value)
    if d > today:
        raise FieldError("date_in_future", f"{label}不能晚于今天")
    return d
