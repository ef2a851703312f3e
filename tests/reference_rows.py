"""The reference the import's column rules (rules.member_frame) are held to: the row validator
the import used before them, row by row in Python, kept as it was (only its home moved).

A chunk of rows is turned into columns. Enumerated and date-like columns repeat a few
values, so each distinct value is parsed once per file and remembered; the columns that are
personal (name, ID number, phone) are checked row by row, and the rules that join columns
(gender against the ID, retirement date, documents of the special channel) run last. The
result keeps each row's cleaned values, its problems, and its PostgreSQL COPY text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from models.states import EmploymentStatus, IdType
from rules.fields import FieldError, compact, parse_month
from rules.idnumbers import IdNumberError, check_other_document, parse_resident_id
from rules.member_cells import (
    NULL,
    Parsed,
    as_text,
    cell_problem,
    check_address,
    check_name,
    column_texts,
    normalise_text,
    number_cell,
    parse_choice,
    parse_flag,
    phone_cell,
)
from rules.member_columns import BY_KEY, COLUMNS
from rules.member_rows import (
    ISO_MONTH_RE,
    LONG_TERM_MIN_AGE,
    MAX_ID_VALIDITY_YEARS,
    NOT_INSURED,
    RECORD_FIELDS,
    RESIDENT,
    Problem,
    age_on,
    check_id_expiry,
    check_past_date,
    years_later,
)

_CACHE_LIMIT = 20_000
_LONG_TERM = object()
_MONTHS = ("work_start_month", "union_join_month", "social_insurance_start")
_BOOLS = ("rural_household", "dispatched_worker", "labour_contract")
_FREE_TEXT = ("contact_address", "household_registration")
_PERSON_FIELDS = (
    "name",
    "id_number",
    "birth_date",
    "gender",
    "id_expiry",
    "id_long_term",
    "nationality",
    "phone",
    "work_address",
    "special_channel",
    "special_reasons",
)
_PERSONAL = ("name", "id_number", "phone", "work_address", "nationality", "id_expiry", *_FREE_TEXT)


@dataclass
class Checked:
    """Rows after the rules: ``problems[i]`` is empty for a good row; blank rows are skipped."""

    values: dict[str, list[Any]]
    problems: list[list[Problem]]
    blank: list[bool]

    def __len__(self) -> int:
        return len(self.blank)

    def good(self, i: int) -> bool:
        return not self.blank[i] and not self.problems[i]

    def record(self, i: int) -> dict[str, Any]:
        return {f: self.values[f][i] for f in RECORD_FIELDS}

    def copy_lines(self) -> list[str]:
        """Each row's fields as COPY text, in RECORD_FIELDS order, joined by tabs."""
        texts = self.values["_texts"]
        return list(map("\t".join, zip(*texts, strict=True)))


class RowValidator:
    """Applies the member rules to the rows of one file; ``positions`` maps column keys to cells."""

    def __init__(self, positions: dict[str, int], today: date) -> None:
        self.today = today
        self.positions = positions
        self._width = max(positions.values(), default=-1) + 1
        self._current_month = f"{today.year:04d}-{today.month:02d}"
        self._max_expiry = years_later(today, MAX_ID_VALIDITY_YEARS)
        self._caches: dict[str, dict[str, Parsed]] = {}
        self._names: dict[str, tuple[str | None, Problem | None, bool]] = {}
        self._addresses: dict[str, tuple[str | None, Problem | None]] = {}
        self._expiries: dict[str, tuple[Any, Problem | None]] = {}
        self._parsers: dict[str, Callable[[str], Parsed]] = {
            c.key: self._parser(c.key) for c in COLUMNS if c.key not in _PERSONAL
        }

    # -- one row, for corrections and tests ----------------------------------------------
    def validate(self, cells: list[str]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """One cleaned record, or None with every problem of the row (None and [] for a blank row)."""
        checked = self.check([cells])
        if checked.blank[0]:
            return None, []
        if checked.problems[0]:
            return None, checked.problems[0]
        return checked.record(0), []

    def validate_cells(self, cells: Sequence[Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
        """:meth:`validate` for cells of any type (Excel dates, numbers, None)."""
        return self.validate([as_text(c) for c in cells])

    # -- many rows -----------------------------------------------------------------------
    def check(self, rows: list[list[str]]) -> Checked:
        n = len(rows)
        caches: list[dict[str, Any]] = [*self._caches.values(), self._names, self._addresses, self._expiries]
        for cache in caches:
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
        for row in rows:
            if len(row) < self._width:
                row.extend([""] * (self._width - len(row)))
        blank = [not "".join(r).strip() for r in rows]
        problems: list[list[Problem]] = [[] for _ in range(n)]
        values: dict[str, list[Any]] = {}
        texts: dict[str, list[str]] = {}
        empty = [""] * n
        for key, parse in self._parsers.items():
            pos = self.positions.get(key)
            column = [r[pos] for r in rows] if pos is not None else empty
            values[key], texts[key] = self._cached_column(key, column, parse, problems)
        personal = {
            key: [c.strip() if c.isascii() else normalise_text(c) for c in (r[pos] for r in rows)]
            if (pos := self.positions.get(key)) is not None
            else empty
            for key in _PERSONAL
        }
        self._people(personal, values, texts, problems)
        insured = [v is not None for v in values["social_insurance_start"]]
        values["social_insured"], texts["social_insured"] = insured, ["t" if v else "f" for v in insured]
        values["deceased_date"], texts["deceased_date"] = [None] * n, [NULL] * n
        values["_texts"] = [texts[f] for f in RECORD_FIELDS]
        return Checked(values, problems, blank)

    def _cached_column(
        self, key: str, column: list[str], parse: Callable[[str], Parsed], problems: list[list[Problem]]
    ) -> tuple[list[Any], list[str]]:
        cache = self._caches.setdefault(key, {})
        for raw in set(column).difference(cache):
            cache[raw] = parse(raw)
        parsed = list(map(cache.__getitem__, column))
        if any(p[2] is not None for p in parsed):
            for i, p in enumerate(parsed):
                if p[2] is not None:
                    problems[i].append(p[2])
        return [p[0] for p in parsed], [p[1] for p in parsed]

    def _people(
        self,
        u: dict[str, list[str]],
        values: dict[str, list[Any]],
        texts: dict[str, list[str]],
        problems: list[list[Problem]],
    ) -> None:
        """The per-person columns, row by row, with the rules that join columns."""
        people = list(
            map(
                self._person,
                u["name"],
                u["id_number"],
                u["phone"],
                u["work_address"],
                u["id_expiry"],
                u["nationality"],
                values["id_type"],
                values["gender"],
                values["employment_status"],
                values["retirement_date"],
                problems,
            )
        )
        columns = list(zip(*people, strict=True)) if people else [() for _ in _PERSON_FIELDS]
        for key, column in zip(_PERSON_FIELDS, columns, strict=True):
            values[key] = list(column)
            texts[key] = column_texts(key, values[key])
        for key in _FREE_TEXT:
            values[key] = [v or None for v in u[key]]
            texts[key] = column_texts(key, values[key])

    def _person(
        self,
        name_text: str,
        number_text: str,
        phone_text: str,
        address_text: str,
        expiry_text: str,
        nationality: str,
        id_type: str | None,
        given_gender: str | None,
        status: str | None,
        retired_on: date | None,
        found: list[Problem],
    ) -> tuple[Any, ...]:
        """One person's values in ``_PERSON_FIELDS`` order; problems go to ``found``."""
        special: list[str] = []
        name = self._names.get(name_text) or self._names.setdefault(name_text, check_name(name_text))
        if name[1] is not None:
            found.append(name[1])
        elif name[2]:
            special.append("rare_characters")
        number = compact(number_text).upper()
        if number_cell("id_number", number, found):
            birth, gender = None, None
        else:
            birth, gender = self._document(number, id_type, found, special)
        if gender and given_gender and given_gender != gender:
            found.append(cell_problem("gender", "gender_mismatch", "性别与身份证号码不符"))
        gender = given_gender or gender
        if id_type is not None and id_type != RESIDENT:
            if gender is None:
                found.append(cell_problem("gender", "required", "非居民身份证人员须填写性别"))
            if not nationality:
                found.append(cell_problem("nationality", "required", "非居民身份证人员须填写国籍"))
        expiry, long_term = self._expiry(expiry_text, birth if id_type == RESIDENT else None, found)
        phone = phone_cell(phone_text, found)
        address = self._addresses.get(address_text) or self._addresses.setdefault(
            address_text, check_address(address_text)
        )
        if address[1] is not None:
            found.append(address[1])
        if status == EmploymentStatus.RETIRED and retired_on is None:
            found.append(cell_problem("retirement_date", "required", "退休人员须填写退休日期"))
        return (
            name[0],
            number or None,
            birth,
            gender,
            expiry,
            long_term,
            nationality or "中国",
            phone,
            address[0],
            bool(special),
            ",".join(special) or None,
        )

    def _document(
        self, number: str, id_type: str | None, found: list[Problem], special: list[str]
    ) -> tuple[date | None, str | None]:
        if not number:
            found.append(cell_problem("id_number", "required", "证件号码不能为空"))
            return None, None
        if id_type is None:
            return None, None
        try:
            if id_type == RESIDENT:
                birth, gender = parse_resident_id(number, self.today)
                return birth, gender.value
            special.append("non_mainland_id")
            return check_other_document(IdType(id_type), number, self.today), None
        except IdNumberError as exc:
            found.append(cell_problem("id_number", exc.code, exc.message))
            return None, None

    def _expiry(self, text: str, birth: date | None, found: list[Problem]) -> tuple[date | None, bool]:
        parsed = self._expiries.get(text)
        if parsed is None:
            parsed = self._expiries[text] = self._parse_expiry(text)
        value, problem = parsed
        if problem is not None:
            found.append(problem)
            return None, False
        if value is _LONG_TERM:
            if birth is not None and age_on(birth, self.today) < LONG_TERM_MIN_AGE:
                found.append(
                    cell_problem(
                        "id_expiry", "id_long_term_too_young", "未满46周岁的居民身份证不会是长期有效，请核对证件有效期"
                    )
                )
            return None, True
        return value, False

    def _parse_expiry(self, text: str) -> tuple[Any, Problem | None]:
        if not text:
            return None, cell_problem("id_expiry", "required", "证件有效期至不能为空（日期或“长期”）")
        try:
            expiry, long_term = check_id_expiry(text, self.today, None)
        except FieldError as exc:
            return None, cell_problem("id_expiry", exc.code, exc.message)
        return (_LONG_TERM if long_term else expiry), None

    # -- parsers of enumerated and date-like cells (once per distinct value) ---------------
    def _parser(self, key: str) -> Callable[[str], Parsed]:
        if key in _MONTHS:
            return lambda raw: self._month(key, raw)
        if key in _BOOLS:
            return lambda raw: parse_flag(key, raw)
        if key == "retirement_date":
            return lambda raw: self._past_date(key, raw, "退休日期")
        return lambda raw: parse_choice(key, raw)

    def _month(self, key: str, raw: str) -> Parsed:
        text = normalise_text(raw)
        if not text or (key == "social_insurance_start" and text in NOT_INSURED):
            return None, NULL, None
        try:
            month = text if ISO_MONTH_RE.match(text) else parse_month(text)
        except FieldError as exc:
            return None, NULL, cell_problem(key, exc.code, exc.message)
        if month > self._current_month:
            return None, NULL, cell_problem(key, "date_in_future", f"{BY_KEY[key].header}不能晚于本月")
        return month, month, None

    def _past_date(self, key: str, raw: str, label: str) -> Parsed:
        text = normalise_text(raw)
        if not text:
            return None, NULL, None
        try:
            value = check_past_date(text, self.today, label)
        except FieldError as exc:
            return None, NULL, cell_problem(key, exc.code, exc.message)
        return value, value.isoformat(), None
