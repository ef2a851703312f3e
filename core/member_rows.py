"""Row rules for member imports and corrections: one cleaned record or every problem of a row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.fields import (
    LONG_TERM,
    FieldError,
    chinese_char_count,
    clean,
    compact,
    in_gb2312,
    parse_bool,
    parse_date,
    parse_month,
)
from core.idnumbers import IdNumberError, check_other_document, parse_resident_id
from core.member_columns import BY_KEY, COLUMNS
from models.states import EmploymentStatus, IdType

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_NAME_RE = re.compile(r"^[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0003134aA-Za-z·.\- ]+$")
_NAME_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "．": "·", "∙": "·"})
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
_BOOL_KEYS = ("rural_household", "dispatched_worker", "labour_contract")
_CHOICE_KEYS = ("ethnicity", "political_status", "education", "title_level", "occupation", "card_type", "affiliation")
_TEXT_KEYS = ("household_registration", "contact_address")


@dataclass(frozen=True, slots=True)
class Problem:
    column: str | None  # the Chinese header, or None for the whole row
    code: str
    message: str


def _years_later(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _age(birth: date, today: date) -> int:
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
        if birth is not None and _age(birth, today) < LONG_TERM_MIN_AGE:
            raise FieldError("id_long_term_too_young", "未满46周岁的居民身份证不会是长期有效，请核对证件有效期")
        return None, True
    try:
        expiry = parse_date(value)
    except FieldError as exc:
        raise FieldError("invalid_id_expiry", exc.message + "，或填写“长期”") from None
    if expiry <= today:
        raise FieldError("id_expired", f"证件已于{expiry.isoformat()}过期，请核对或更新证件有效期")
    if expiry > _years_later(today, MAX_ID_VALIDITY_YEARS):
        raise FieldError("id_expiry_too_far", f"证件有效期{expiry.isoformat()}超过20年，请核对")
    return expiry, False


def check_past_date(value: str | date, today: date, label: str) -> date:
    d = parse_date(value)
    if d > today:
        raise FieldError("date_in_future", f"{label}不能晚于今天")
    return d


class RowValidator:
    """Validates rows of one file; ``positions`` maps column keys to cell positions."""

    def __init__(self, positions: dict[str, int], today: date) -> None:
        self.positions = positions
        self.today = today
        self._present = tuple((c, positions[c.key]) for c in COLUMNS if c.key in positions)

    def validate(self, cells: list[Any] | tuple[Any, ...]) -> tuple[dict[str, Any] | None, list[Problem]]:
        values: dict[str, Any] = {}
        width = len(cells)
        for column, pos in self._present:
            if pos < width:
                v = clean(cells[pos])
                if v is not None:
                    values[column.key] = v
        if not values:
            return None, []  # a blank row is skipped, not an error
        problems: list[Problem] = []
        record = self._build(values, problems)
        return (None, problems) if problems else (record, problems)

    def _build(self, v: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
        rec: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)

        def fail(key: str, code: str, message: str) -> None:
            problems.append(Problem(BY_KEY[key].header, code, message))

        def text(key: str) -> str | None:
            value = v.get(key)
            if value is None:
                return None
            return value.isoformat() if isinstance(value, date) else str(value)

        def required(key: str) -> str | None:
            value = text(key)
            if value is None:
                fail(key, "required", f"{BY_KEY[key].header}不能为空")
            return value

        def choice(key: str, default: str | None = None) -> str | None:
            value = text(key)
            if value is None:
                return default
            found = BY_KEY[key].choices.get(value.lower())
            if found is None:
                allowed = "、".join(BY_KEY[key].allowed[:12])
                fail(key, "invalid_value", f"{BY_KEY[key].header}“{value}”不在允许值内（{allowed}）")
            return found

        special: list[str] = []
        name = required("name")
        if name is not None:
            name = name.translate(_NAME_DOTS)
            if len(name) < 2 or len(name) > 60 or not _NAME_RE.match(name):
                fail("name", "invalid_name", "姓名只能包含汉字、字母、间隔号“·”，长度2至60")
            elif not in_gb2312(name):
                special.append("rare_characters")
        rec["name"] = name

        id_type = choice("id_type", IdType.RESIDENT_ID.value)
        rec["id_type"] = id_type
        birth: date | None = None
        derived_gender: str | None = None
        number = required("id_number")
        if number is not None and id_type is not None:
            number = compact(number).upper()
            try:
                if id_type == IdType.RESIDENT_ID:
                    birth, g = parse_resident_id(number, self.today)
                    derived_gender = g.value
                else:
                    birth = check_other_document(IdType(id_type), number, self.today)
                    special.append("non_mainland_id")
            except IdNumberError as exc:
                fail("id_number", exc.code, exc.message)
        rec["id_number"] = number
        rec["birth_date"] = birth

        gender = choice("gender")
        if derived_gender and gender and gender != derived_gender:
            fail("gender", "gender_mismatch", "性别与身份证号码不符")
        rec["gender"] = gender or derived_gender
        if rec["gender"] is None and id_type is not None and id_type != IdType.RESIDENT_ID:
            fail("gender", "required", "非居民身份证人员须填写性别")

        expiry_text = v.get("id_expiry")
        if expiry_text is None:
            fail("id_expiry", "required", "证件有效期至不能为空（日期或“长期”）")
        else:
            try:
                rec["id_expiry"], rec["id_long_term"] = check_id_expiry(
                    expiry_text, self.today, birth if id_type == IdType.RESIDENT_ID else None
                )
            except FieldError as exc:
                fail("id_expiry", exc.code, exc.message)

        nationality = text("nationality")
        if nationality is None and id_type == IdType.RESIDENT_ID:
            nationality = "中国"
        elif nationality is None and id_type is not None:
            fail("nationality", "required", "非居民身份证人员须填写国籍")
        rec["nationality"] = nationality

        phone = required("phone")
        if phone is not None:
            try:
                rec["phone"] = check_phone(phone)
            except FieldError as exc:
                fail("phone", exc.code, exc.message)

        address = required("work_address")
        if address is not None:
            try:
                rec["work_address"] = check_work_address(address)
            except FieldError as exc:
                fail("work_address", exc.code, exc.message)

        for key in _CHOICE_KEYS:
            rec[key] = choice(key)
        rec["card_type"] = rec["card_type"] or "debit"
        rec["affiliation"] = rec["affiliation"] or "enterprise"
        for key in _TEXT_KEYS:
            rec[key] = text(key)
        for key in _BOOL_KEYS:
            raw = text(key)
            if raw is not None:
                try:
                    rec[key] = parse_bool(raw)
                except FieldError as exc:
                    fail(key, exc.code, exc.message)
        self._months(v, rec, fail)
        self._employment(v, rec, fail, choice)
        rec["special_channel"] = bool(special)
        rec["special_reasons"] = ",".join(special) or None
        return rec

    def _months(self, v: dict[str, Any], rec: dict[str, Any], fail: Any) -> None:
        current = f"{self.today.year:04d}-{self.today.month:02d}"
        for key in ("work_start_month", "union_join_month", "social_insurance_start"):
            raw = v.get(key)
            if raw is None:
                continue
            if key == "social_insurance_start" and isinstance(raw, str) and raw in ("未参加", "无", "none"):
                continue
            try:
                month = parse_month(raw)
            except FieldError as exc:
                fail(key, exc.code, exc.message)
                continue
            if month > current:
                fail(key, "date_in_future", f"{BY_KEY[key].header}不能晚于本月")
            rec[key] = month
        rec["social_insured"] = rec["social_insurance_start"] is not None

    def _employment(self, v: dict[str, Any], rec: dict[str, Any], fail: Any, choice: Any) -> None:
        status = choice("employment_status", EmploymentStatus.IN_SERVICE.value)
        rec["employment_status"] = status
        retired = v.get("retirement_date")
        if status == EmploymentStatus.RETIRED and retired is None:
            fail("retirement_date", "required", "退休人员须填写退休日期")
        if retired is not None:
            try:
                rec["retirement_date"] = check_past_date(retired, self.today, "退休日期")
            except FieldError as exc:
                fail("retirement_date", exc.code, exc.message)
