"""The member rules as column expressions: a chunk of rows checked as a polars frame.

Every rule of the import (the row-at-a-time validator they replaced is kept in the tests as the
reference a property test holds them to) is an expression over whole columns here: text normalisation, the
GB 11643 check digit, birth dates, phones, names, addresses and the rules that join columns.
Enumerated and date-like columns repeat a few values: each distinct value is parsed once by the
same parser as the row validator. A rule's outcome is a problem slot (code and message, null when
the row passes); the slots keep the row validator's order, so a row's problems read the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import polars as pl

from rules.fields import LONG_TERM, FieldError
from rules.member_cells import NULL, Parsed, cell_parsers, cell_problem, phone_cell
from rules.member_columns import BY_KEY, COLUMNS
from rules.member_person import FREE_TEXT, PersonQuery
from rules.member_rows import (
    PHONE_RE,
    RECORD_FIELDS,
    Problem,
    check_id_expiry,
)

_PERSONAL = ("name", "id_number", "phone", "work_address", "nationality", "id_expiry", *FREE_TEXT)
_PARSED = tuple(c.key for c in COLUMNS if c.key not in _PERSONAL)
# a character NFKC may change: anything but ASCII, the unified ideographs and the middle dot
_NFKC_CHANGEABLE = r"[^\x00-\x7f\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}·]"


def personal_text(column: pl.Series) -> pl.Series:
    """Cells as the row validator reads a personal cell: ASCII text only trimmed; other text
    trimmed, NFKC (full-width digits and letters, ideographic spaces) and inner whitespace folded.
    NFKC runs only on the cells that hold a character it could change."""
    stripped = column.str.strip_chars()
    non_ascii = column.str.len_bytes() != column.str.len_chars()
    if not non_ascii.any():
        return stripped
    changeable = non_ascii & stripped.str.contains(_NFKC_CHANGEABLE)
    out = stripped
    index = changeable.arg_true()
    if len(index):
        out = out.scatter(index, out.gather(index).str.normalize("NFKC").str.strip_chars())
    fold = (non_ascii & out.str.contains(r"  |[\t\n\r]")).arg_true()
    if len(fold):
        out = out.scatter(fold, out.gather(fold).str.replace_all(r"\s+", " ").str.strip_chars())
    return out


@dataclass
class FrameChecked:
    """Rows after the rules: each row's COPY text (RECORD_FIELDS order), problems of the bad ones."""

    blank: list[bool]
    problems: dict[int, list[Problem]]
    lines: pl.Series  # the COPY text of each row, RECORD_FIELDS joined by tabs
    id_numbers: list[str | None]
    phones: list[str | None]

    def __len__(self) -> int:
        return len(self.blank)

    def good(self, i: int) -> bool:
        return not self.blank[i] and i not in self.problems


class FrameChecker:
    """The member rules of one file (``positions``: column key -> cell index), columnar."""

    def __init__(self, positions: dict[str, int], today: date) -> None:
        self.positions = positions
        self.today = today
        self._parsers: dict[str, Callable[[str], Parsed]] = cell_parsers(_PARSED, today)
        # each distinct value of a column is parsed once per file (the caches are bounded)
        self._caches: dict[str, dict[str, Parsed]] = {}
        self._expiries: dict[str, tuple[Any, str | None, str | None]] = {}
        self._phones: dict[str, tuple[str | None, str | None, str | None]] = {}

    # -- input -----------------------------------------------------------------------------
    def frame_of_rows(self, rows: list[list[str]]) -> tuple[pl.DataFrame, list[bool]]:
        blank = [not "".join(r).strip() for r in rows]
        data = {
            key: [r[pos] if pos < len(r) else "" for r in rows]
            if (pos := self.positions.get(key)) is not None
            else None
            for key in (*_PARSED, *_PERSONAL)
        }
        n = len(rows)
        return pl.DataFrame(
            {k: v if v is not None else [""] * n for k, v in data.items()}, schema=dict.fromkeys(data, pl.String)
        ), blank

    def frame_of_lines(self, lines: list[str], delimiter: str) -> tuple[pl.DataFrame, list[bool]]:
        """Lines of a chunk with no quote, NUL or bare carriage return: each line is one record."""
        raw = pl.Series("line", lines, dtype=pl.String).str.strip_suffix("\r")
        spaces = r"\s" if delimiter == "\t" else r"\s" + delimiter  # the delimiter is "," or a tab
        blank = raw.str.contains(f"^[{spaces}]*$").to_list()  # only delimiters and spaces
        width = max(self.positions.values(), default=0) + 1
        cells = raw.str.splitn(delimiter, width + 1).struct.unnest()  # one field more holds the rest
        empty = pl.repeat("", len(lines), dtype=pl.String, eager=True)
        columns = {
            key: cells.to_series(pos).fill_null("") if (pos := self.positions.get(key)) is not None else empty
            for key in (*_PARSED, *_PERSONAL)
        }
        return pl.DataFrame(columns), blank

    # -- the rules -------------------------------------------------------------------------
    def check(self, rows: list[list[str]]) -> FrameChecked:
        frame, blank = self.frame_of_rows(rows)
        return self.check_frame(frame, blank)

    def check_frame(self, frame: pl.DataFrame, blank: list[bool]) -> FrameChecked:
        n = frame.height
        slots: list[tuple[str | None, pl.Series | None, pl.Series | None]] = []
        texts: dict[str, pl.Series] = {}
        for key in _PARSED:
            text, code, message = self._parsed_column(key, frame.get_column(key))
            texts[key] = text
            slots.append((BY_KEY[key].header, code, message))
        people = pl.DataFrame(
            [personal_text(frame.get_column(k)).alias(k) for k in _PERSONAL]
            + [texts[k].alias(f"_{k}") for k in ("id_type", "gender", "employment_status", "retirement_date")]
        )
        query = PersonQuery(self._with_expiry_and_phone(people), self.today)
        checked = query.run()
        for name, header in query.slots:
            slots.append((header, checked.get_column(f"{name}_code"), checked.get_column(f"{name}_msg")))
        for key in ("name", "id_number", "birth_date", "gender", "id_expiry", "id_long_term", "nationality", "phone",
                    "work_address", "special_channel", "special_reasons", *FREE_TEXT):  # fmt: skip
            texts[key] = checked.get_column(f"t_{key}")
        insured = texts["social_insurance_start"] != NULL
        texts["social_insured"] = insured.replace_strict({True: "t", False: "f"}, return_dtype=pl.String)
        texts["deceased_date"] = pl.Series([NULL] * n, dtype=pl.String)
        lines = pl.DataFrame({f: texts[f] for f in RECORD_FIELDS}).select(
            pl.concat_str(list(RECORD_FIELDS), separator="\t").alias("line")
        )
        problems = self._problems(slots, blank)
        return FrameChecked(
            blank=blank,
            problems=problems,
            lines=lines.get_column("line"),
            id_numbers=checked.get_column("v_id_number").to_list(),
            phones=checked.get_column("v_phone").to_list(),
        )

    @staticmethod
    def _problems(
        slots: list[tuple[str | None, pl.Series | None, pl.Series | None]], blank: list[bool]
    ) -> dict[int, list[Problem]]:
        slots = [s for s in slots if s[1] is not None]  # the columns none of whose values is wrong
        codes = pl.DataFrame({f"c{i}": s[1] for i, s in enumerate(slots)})
        bad = codes.select(pl.any_horizontal(pl.all().is_not_null()).alias("bad")).get_column("bad")
        rows = [i for i in bad.arg_true().to_list() if not blank[i]]
        found: dict[int, list[Problem]] = {}
        if not rows:
            return found
        index = pl.Series(rows, dtype=pl.UInt32)
        picked = [
            (header, code.gather(index).to_list(), msg.gather(index).to_list())
            for header, code, msg in slots
            if code is not None and msg is not None
        ]
        for j, row in enumerate(rows):
            found[row] = [Problem(h, c[j], m[j]) for h, c, m in picked if c[j] is not None]
        return found

    def _parsed_column(self, key: str, column: pl.Series) -> tuple[pl.Series, pl.Series | None, pl.Series | None]:
        """(COPY text, problem code, problem message) of an enumerated or date-like column; no
        code or message columns when none of its values has a problem (the usual file)."""
        unique = column.unique().to_list()
        outcomes = _each_distinct(self._caches.setdefault(key, {}), unique, self._parsers[key])
        if len(unique) == 1:
            text = pl.repeat(outcomes[0][1], len(column), dtype=pl.String, eager=True)
        else:
            text = column.replace_strict(unique, [p[1] for p in outcomes], return_dtype=pl.String)
        if all(p[2] is None for p in outcomes):
            return text, None, None
        codes = [p[2].code if p[2] else None for p in outcomes]
        messages = [p[2].message if p[2] else None for p in outcomes]
        code = column.replace_strict(unique, codes, return_dtype=pl.String)
        return text, code, column.replace_strict(unique, messages, return_dtype=pl.String)

    def _with_expiry_and_phone(self, people: pl.DataFrame) -> pl.DataFrame:
        """The expiry (each distinct text once) and the phones that are not plainly 11 digits."""
        expiry = people.get_column("id_expiry")
        unique = expiry.unique().to_list()
        outcomes = _each_distinct(self._expiries, unique, self._parse_expiry)
        index = expiry.replace_strict(unique, list(range(len(unique))), return_dtype=pl.UInt32)
        phone = people.get_column("phone")
        plain = phone.str.len_chars().eq(11) & phone.str.contains(PHONE_RE.pattern)
        odd = phone.filter(~plain).unique().to_list()
        odd_out = _each_distinct(self._phones, odd, _odd_phone)
        odd_index = phone.replace_strict(odd, list(range(len(odd))), default=None, return_dtype=pl.UInt32)

        def pick(values: list[Any], idx: pl.Series, dtype: Any) -> pl.Series:
            return pl.Series(values, dtype=dtype).gather(idx) if values else pl.Series([None] * len(idx), dtype=dtype)

        return people.with_columns(
            pick([o[0] if isinstance(o[0], date) else None for o in outcomes], index, pl.Date).alias("_exp_date"),
            pick([o[0] == "long_term" for o in outcomes], index, pl.Boolean).alias("_exp_long"),
            pick([o[1] for o in outcomes], index, pl.String).alias("_exp_code"),
            pick([o[2] for o in outcomes], index, pl.String).alias("_exp_msg"),
            pl.Series(plain).alias("_phone_plain"),
            pick([o[0] for o in odd_out], odd_index, pl.String).alias("_phone_value"),
            pick([o[1] for o in odd_out], odd_index, pl.String).alias("_phone_code"),
            pick([o[2] for o in odd_out], odd_index, pl.String).alias("_phone_msg"),
        )

    def _parse_expiry(self, text: str) -> tuple[Any, str | None, str | None]:
        """(the date or "long_term", code, message) of an expiry text, as the row validator says."""
        if not text:
            p = cell_problem("id_expiry", "required", "证件有效期至不能为空（日期或“长期”）")
            return None, p.code, p.message
        if text.lower() in LONG_TERM:
            return "long_term", None, None
        try:
            expiry, _ = check_id_expiry(text, self.today, None)
        except FieldError as exc:
            return None, exc.code, exc.message
        return expiry, None, None


_CACHE_LIMIT = 20_000
T = TypeVar("T")


def _each_distinct(cache: dict[str, T], values: list[str], parse: Callable[[str], T]) -> list[T]:
    """``parse`` of each value, each distinct text parsed once per file (``cache``, bounded)."""
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    for raw in values:
        if raw not in cache:
            cache[raw] = parse(raw)
    return [cache[raw] for raw in values]


def _odd_phone(raw: str) -> tuple[str | None, str | None, str | None]:
    """(phone, code, message) of a phone cell that is not plainly 11 digits."""
    found: list[Problem] = []
    value = phone_cell(raw, found)
    return value, found[0].code if found else None, found[0].message if found else None
