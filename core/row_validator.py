"""The import's hot path: one file's rows checked against the member rules.

About 25 cells a row and 100,000s of rows: enumerated and date-like columns repeat a few
values, so each distinct value is parsed once per file and remembered (value, problem);
only the columns unique to a person (name, ID, phone, addresses) are checked every time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from core.fields import FieldError, clean, compact, in_gb2312, parse_bool, parse_month
from core.idnumbers import IdNumberError, check_other_document, parse_resident_id
from core.member_columns import BY_KEY, COLUMNS
from core.member_rows import (
    _ISO_MONTH_RE,
    _NAME_DOTS,
    _NAME_RE,
    _NOT_INSURED,
    MAX_ID_VALIDITY_YEARS,
    PHONE_RE,
    RECORD_FIELDS,
    RESIDENT,
    Problem,
    _years_later,
    check_id_expiry,
    check_past_date,
    check_phone,
    check_work_address,
)
from models.states import EmploymentStatus, IdType

Parsed = tuple[Any, Problem | None]
_CACHE_LIMIT = 20_000
_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(RECORD_FIELDS),
    "id_type": RESIDENT,
    "id_long_term": False,
    "card_type": "debit",
    "affiliation": "enterprise",
    "employment_status": EmploymentStatus.IN_SERVICE.value,
    "social_insured": False,
    "special_channel": False,
}
_UNIQUE_KEYS = (
    "name",
    "id_number",
    "phone",
    "work_address",
    "contact_address",
    "household_registration",
    "nationality",
    "id_expiry",
)


def normalise_text(s: str) -> str:
    """Trimmed, NFKC (full-width digits and letters, ideographic spaces), inner whitespace folded."""
    s = s.strip()
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s).strip()
    if "  " in s or "\t" in s or "\n" in s or "\r" in s:
        s = " ".join(s.split())
    return s


def _problem(key: str, code: str, message: str) -> Problem:
    return Problem(BY_KEY[key].header, code, message)


class RowValidator:
    """Validates the rows of one file; ``positions`` maps column keys to cell positions."""

    def __init__(self, positions: dict[str, int], today: date) -> None:
        self.today = today
        self._current_month = f"{today.year:04d}-{today.month:02d}"
        self._max_expiry = _years_later(today, MAX_ID_VALIDITY_YEARS)
        self._unique = tuple((k, positions[k]) for k in _UNIQUE_KEYS if k in positions)
        self._cached = tuple(
            (c.key, positions[c.key], self._parser(c.key), {})
            for c in COLUMNS
            if c.key in positions and c.key not in _UNIQUE_KEYS
        )

    def _parser(self, key: str) -> Callable[[str], Parsed]:
        if key in ("work_start_month", "union_join_month", "social_insurance_start"):
            return lambda raw: self._month(key, raw)
        if key in ("rural_household", "dispatched_worker", "labour_contract"):
            return lambda raw: self._bool(key, raw)
        if key == "retirement_date":
            return lambda raw: self._past_date(key, raw, "退休日期")
        return lambda raw: self._choice(key, raw)

    # -- per distinct value -------------------------------------------------------------
    @staticmethod
    def _choice(key: str, raw: str) -> Parsed:
        text = normalise_text(raw)
        if not text:
            return None, None
        column = BY_KEY[key]
        found = column.choices.get(text) or column.choices.get(text.lower())
        if found is None:
            allowed = "、".join(column.allowed[:12])
            return None, _problem(key, "invalid_value", f"{column.header}“{text}”不在允许值内（{allowed}）")
        return found, None

    @staticmethod
    def _bool(key: str, raw: str) -> Parsed:
        text = normalise_text(raw)
        if not text:
            return None, None
        try:
            return parse_bool(text), None
        except FieldError as exc:
            return None, _problem(key, exc.code, exc.message)

    def _month(self, key: str, raw: str) -> Parsed:
        text = normalise_text(raw)
        if not text or (key == "social_insurance_start" and text in _NOT_INSURED):
            return None, None
        try:
            month = text if _ISO_MONTH_RE.match(text) else parse_month(text)
        except FieldError as exc:
            return None, _problem(key, exc.code, exc.message)
        if month > self._current_month:
            return None, _problem(key, "date_in_future", f"{BY_KEY[key].header}不能晚于本月")
        return month, None

    def _past_date(self, key: str, raw: str, label: str) -> Parsed:
        text = normalise_text(raw)
        if not text:
            return None, None
        try:
            return check_past_date(text, self.today, label), None
        except FieldError as exc:
            return None, _problem(key, exc.code, exc.message)

    # -- per row -------------------------------------------------------------------------
    def validate_cells(self, cells: Sequence[Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """:meth:`validate` for cells of any type (Excel dates, numbers, None)."""
        return self.validate([_as_text(c) for c in cells])

    def validate(self, cells: list[str]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """One cleaned record, or None with every problem of the row (None and [] for a blank row)."""
        width = len(cells)
        rec = _DEFAULTS.copy()
        problems: list[Problem] = []
        present = False
        for key, pos, parse, cache in self._cached:
            if pos < width and (raw := cells[pos]):
                hit = cache.get(raw)
                if hit is None:
                    if len(cache) > _CACHE_LIMIT:
                        cache.clear()
                    hit = cache[raw] = parse(raw)
                value, problem = hit
                if problem is not None:
                    problems.append(problem)
                elif value is not None:
                    rec[key] = value
                present = True
        unique: dict[str, str] = {}
        for key, pos in self._unique:
            if pos < width and (raw := cells[pos]):
                text = raw.strip()
                if not text.isascii():
                    text = normalise_text(text)
                if text:
                    unique[key] = text
        if not present and not unique:
            return None, []  # a blank row is skipped, not an error
        self._person(unique, rec, problems)
        if problems:
            return None, problems
        rec["social_insured"] = rec["social_insurance_start"] is not None
        return rec, problems

    def _person(self, u: dict[str, str], rec: dict[str, Any], problems: list[Problem]) -> None:
        special: list[str] = []
        name = u.get("name")
        if name is None:
            problems.append(_problem("name", "required", "姓名不能为空"))
        else:
            name = " ".join(name.translate(_NAME_DOTS).split())
            if len(name) < 2 or len(name) > 60 or not _NAME_RE.match(name):
                problems.append(_problem("name", "invalid_name", "姓名只能包含汉字、字母、间隔号“·”，长度2至60"))
            elif not name.isascii() and not in_gb2312(name):
                special.append("rare_characters")
            rec["name"] = name
        birth = self._document(u, rec, problems, special)
        self._expiry(u.get("id_expiry"), birth if rec["id_type"] == RESIDENT else None, rec, problems)
        self._contact(u, rec, problems)
        rec["contact_address"] = u.get("contact_address")
        rec["household_registration"] = u.get("household_registration")
        if rec["employment_status"] == EmploymentStatus.RETIRED and rec["retirement_date"] is None:
            problems.append(_problem("retirement_date", "required", "退休人员须填写退休日期"))
        if special:
            rec["special_channel"] = True
            rec["special_reasons"] = ",".join(special)

    def _document(
        self, u: dict[str, str], rec: dict[str, Any], problems: list[Problem], special: list[str]
    ) -> date | None:
        id_type = rec["id_type"]
        number = u.get("id_number")
        birth: date | None = None
        derived: str | None = None
        if number is None:
            problems.append(_problem("id_number", "required", "证件号码不能为空"))
        else:
            number = compact(number).upper()
            rec["id_number"] = number
            try:
                if id_type == RESIDENT:
                    birth, gender = parse_resident_id(number, self.today)
                    derived = gender.value
                else:
                    birth = check_other_document(IdType(id_type), number, self.today)
                    special.append("non_mainland_id")
            except IdNumberError as exc:
                problems.append(_problem("id_number", exc.code, exc.message))
        rec["birth_date"] = birth
        given = rec["gender"]
        if derived and given and given != derived:
            problems.append(_problem("gender", "gender_mismatch", "性别与身份证号码不符"))
        rec["gender"] = given or derived
        nationality = u.get("nationality")
        if id_type != RESIDENT:
            if rec["gender"] is None:
                problems.append(_problem("gender", "required", "非居民身份证人员须填写性别"))
            if nationality is None:
                problems.append(_problem("nationality", "required", "非居民身份证人员须填写国籍"))
        rec["nationality"] = nationality or "中国"
        return birth

    def _expiry(self, text: str | None, birth: date | None, rec: dict[str, Any], problems: list[Problem]) -> None:
        if text is None:
            problems.append(_problem("id_expiry", "required", "证件有效期至不能为空（日期或“长期”）"))
            return
        if len(text) == 10:  # the common ISO form, accepted without the general parser
            try:
                expiry = date.fromisoformat(text)
            except ValueError:
                expiry = None
            if expiry is not None and self.today < expiry <= self._max_expiry:
                rec["id_expiry"] = expiry
                return
        try:
            rec["id_expiry"], rec["id_long_term"] = check_id_expiry(text, self.today, birth)
        except FieldError as exc:
            problems.append(_problem("id_expiry", exc.code, exc.message))

    @staticmethod
    def _contact(u: dict[str, str], rec: dict[str, Any], problems: list[Problem]) -> None:
        phone = u.get("phone")
        if phone is None:
            problems.append(_problem("phone", "required", "手机号码不能为空"))
        elif len(phone) == 11 and PHONE_RE.match(phone):
            rec["phone"] = phone
        else:
            try:
                rec["phone"] = check_phone(phone)
            except FieldError as exc:
                problems.append(_problem("phone", exc.code, exc.message))
        address = u.get("work_address")
        if address is None:
            problems.append(_problem("work_address", "required", "工作单位详细地址不能为空"))
        else:
            try:
                rec["work_address"] = check_work_address(address)
            except FieldError as exc:
                problems.append(_problem("work_address", exc.code, exc.message))


def _as_text(value: Any) -> str:
    cleaned = clean(value)
    if cleaned is None:
        return ""
    return cleaned.isoformat() if isinstance(cleaned, date) else cleaned
