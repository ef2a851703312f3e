"""The first sheet of an .xlsx file read by calamine (fastexcel), columnar, with the old reader's cells.

fastexcel reads the sheet as text columns into polars (null for an empty cell). Its text of a
cell that Excel stored as a number, a date or a boolean is not the one the clerk sees (a date is
``2030-01-02 00:00:00``, a boolean ``true``), and it cannot say which cells were numbers: an ID
number typed as one and the same digits typed as text both come out as ``310105198102030208``.
So the sheet's XML is searched, at the same time on the other core, for the cells that are not
text (no ``t``, ``t="n"`` or ``t="b"``) with one bytes regex, keeping their stored ``<v>``; those
cells are then written as the clerk sees them: numbers without a spurious ``.0``, a number with a
date style as its ISO date, booleans as 是/否, and a number in a text-only column (ID number,
phone) as Excel shows it (``3.10105198102030216E+17``), for the rules to refuse.

A sheet whose cells do not all begin ``<c r="..."`` (a writer that leaves references out, or a
prefixed namespace) is read by python-calamine cell by cell instead, slower but typed.
"""

from __future__ import annotations

import posixpath
import pyexpat
import re
import zipfile
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import iterparse as _iterparse

import fastexcel
import polars as pl
import python_calamine

# Uploaded XML is untrusted. ElementTree never loads external entities, and expat 2.4 and later
# cap entity amplification ("billion laughs"); older expat is refused rather than trusted.
if pyexpat.version_info < (2, 4, 1):
    raise ImportError("expat 2.4.1 or later is needed to read uploaded workbooks safely")
iterparse = _iterparse

# Excel's own limits: a workbook beyond them was not made by Excel (or by any honest writer).
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
SHARED_STRINGS = "xl/sharedStrings.xml"

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_EXCEL_EPOCH = date(1899, 12, 30)
# Built-in number formats that are dates (ECMA-376 18.8.30, and those of the Chinese locale).
_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 22, 27, 28, 29, 30, 31, 34, 35, 36, 50, 51, 52, 53, 54, 55, 56, 57, 58})
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')

# A cell that may not be text, with its column, row, attributes and content: every cell but the
# text ones as Excel and the usual writers write them (t="s", "str", "inlineStr" or "e", after at
# most a style: the kinds beginning s, i or e) and the empty ones (``<c r="B2" s="1"/>``). The
# last alternative is a cell whose reference is not its first attribute, or that has none: the
# sheet is then read cell by cell. The regex engine passes over a text cell in a few steps; only
# the typed ones reach Python.
_CANDIDATE = re.compile(
    rb'<c(?: r="([A-Z]{1,3})(\d{1,7})"(?!(?: s="\d+")? t="[sie])'
    # the usual form, taken apart by the regex: style, kind, value
    rb'(?:(?: s="(\d+)")?(?: t="([nb])")?>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?<v>([^<]+)</v></c>'
    # any other: its attributes and content, for Python
    rb"|(?![^>]*/>)([^>]*)>(.*?)</c>)"
    rb'|( (?!r=")|>))',
    re.S,
)
_KIND = re.compile(rb'(?:^|\s)t="([^"]*)"')
_VALUE = re.compile(rb"<v>([^<]+)</v>")
_STYLE = re.compile(rb'(?:^|\s)s="(\d+)"')
# The first cell with a value: calamine's range (the frame) starts at its row.
_FIRST_VALUE = re.compile(rb'<c r="[A-Z]{1,3}(\d{1,7})"[^>/]*>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?<(?:v>[^<]|is>)')
_LAST_ROW = re.compile(rb'<row r="(\d{1,7})"')
_BLOCK = 4 << 20
_READ_ERRORS = (
    SyntaxError, ValueError, KeyError, IndexError, EOFError, RecursionError, RuntimeError, NotImplementedError,
    OSError, zlib.error, zipfile.BadZipFile, fastexcel.FastExcelError, python_calamine.CalamineError,
)  # fmt: skip


class XlsxError(ValueError):
    """The file is not a readable workbook."""


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def first_sheet_path(z: zipfile.ZipFile) -> str:
    with z.open("xl/workbook.xml") as f:
        sheet = next((e for _, e in iterparse(f) if local_name(e.tag) == "sheet"), None)
    if sheet is None:
        raise XlsxError("the workbook has no sheet")
    rel_id = sheet.get(f"{{{_REL_NS}}}id")
    with z.open("xl/_rels/workbook.xml.rels") as f:
        for _, rel in iterparse(f):
            if local_name(rel.tag) == "Relationship" and rel.get("Id") == rel_id:
                target = rel.get("Target", "")
                return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise XlsxError("the first sheet is missing")


def _is_date_format(code: str) -> bool:
    bare = _QUOTED.sub("", code).lower()
    return "y" in bare or "d" in bare


def date_style_ids(z: zipfile.ZipFile) -> set[bytes]:
    """Indexes (as the ``s`` attribute writes them) of the cell formats that show a date."""
    if "xl/styles.xml" not in z.namelist():
        return set()
    custom: dict[int, str] = {}
    formats: list[int] = []
    in_cell_xfs = False
    with z.open("xl/styles.xml") as f:
        for event, elem in iterparse(f, events=("start", "end")):
            name = local_name(elem.tag)
            if name == "cellXfs":
                in_cell_xfs = event == "start"
            elif event == "end" and name == "numFmt":
                custom[int(elem.get("numFmtId", "0"))] = elem.get("formatCode", "")
            elif event == "end" and name == "xf" and in_cell_xfs:
                formats.append(int(elem.get("numFmtId", "0")))
    return {
        str(index).encode()
        for index, fmt in enumerate(formats)
        if fmt in _DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt]))
    }


def column_index(letters: bytes) -> int:
    """0-based column of a reference's letters such as ``AB``."""
    index = -1
    for ch in letters:
        index = (index + 1) * 26 + ch - 65
    return index


def number_text(raw: str, is_date: bool) -> str:
    """A number cell as the clerk sees it, from its stored value."""
    if is_date:
        try:
            return (_EXCEL_EPOCH + timedelta(days=int(float(raw)))).isoformat()
        except (ValueError, OverflowError):
            return raw
    if raw.endswith(".0"):
        return raw[:-2]
    if "E" in raw or "e" in raw:
        try:
            value = float(raw)
        except ValueError:
            return raw
        return str(int(value)) if value.is_integer() else raw
    return raw


def as_typed(raw: str) -> str:
    """A number cell of an ID or phone column as Excel shows it (``3.10105198102030216E+17``): the
    row is then refused with the hint to format the column as text (``number_cell``)."""
    try:
        return format(Decimal(raw), "E")
    except InvalidOperation:
        return raw


@dataclass
class _Typed:
    """The cells of the sheet that are not text, found in its XML."""

    origin_row: int | None = None  # 0-based row of the first cell with a value
    cells: dict[int, tuple[list[int], list[str], list[bool]]] = field(default_factory=dict)  # col: rows, raw, date?
    booleans: dict[int, tuple[list[int], list[str]]] = field(default_factory=dict)
    regular: bool = True  # every cell begins <c r="...": the regex saw them all


def _scan_typed(path: str, max_row: int | None) -> _Typed:
    typed = _Typed()
    columns: dict[bytes, int] = {}
    with zipfile.ZipFile(path) as z:
        date_styles = date_style_ids(z)
        with z.open(first_sheet_path(z)) as f:
            carry = b""
            while block := f.read(_BLOCK):
                data = carry + block
                # The last cell may go on in the next block: it is searched there, whole.
                cut = len(data) - 1 if data.endswith(b"<") else data.rfind(b"<c")
                if len(block) == _BLOCK and cut > 0:
                    data, carry = data[:cut], data[cut:]
                else:
                    carry = b""
                if b":sheetData" in data:
                    typed.regular = False  # prefixed tags
                    return typed
                if typed.origin_row is None and (first := _FIRST_VALUE.search(data)):
                    typed.origin_row = int(first.group(1)) - 1
                origin = typed.origin_row or 0
                # Inline strings only (as openpyxl writes them) have no <v>: no number, no boolean.
                candidates = _CANDIDATE.findall(data) if b"<v>" in data else []
                for letters, row, style, kind, value, attributes, content, odd in candidates:
                    if odd:
                        typed.regular = False
                        return typed
                    if not value:  # not the usual form
                        found = _KIND.search(attributes)
                        kind = found.group(1) if found else b""
                        number = _VALUE.search(content)
                        if number is None or kind not in (b"", b"n", b"b"):
                            continue  # empty, or text with its attributes in another order
                        value = number.group(1)
                        found = _STYLE.search(attributes)
                        style = found.group(1) if found else b""
                    r = int(row) - 1 - origin
                    if max_row is not None and r >= max_row:
                        return typed
                    col = columns.get(letters)
                    if col is None:
                        col = columns[letters] = column_index(letters)
                    if kind == b"b":
                        rows, vals = typed.booleans.setdefault(col, ([], []))
                        rows.append(r)
                        vals.append("是" if value == b"1" else "否")
                        continue
                    rows, raws, dates = typed.cells.setdefault(col, ([], [], []))
                    rows.append(r)
                    raws.append(value.decode("ascii", "replace"))
                    dates.append(style in date_styles)
                last = _LAST_ROW.search(data, max(data.rfind(b"<row "), 0))
                if max_row is not None and last and int(last.group(1)) - 1 - origin >= max_row:
                    return typed
    return typed


@dataclass
class Sheet:
    """The first sheet: ``frame`` holds its text from row ``origin_row`` and column ``origin_col``
    (0-based) on, as calamine's range does; a null is an empty cell."""

    frame: pl.DataFrame
    origin_row: int
    origin_col: int
    typed: _Typed
    limited: bool = False  # only the first rows were read

    def finish(self, text_only: Callable[[list[list[str]]], list[int]]) -> pl.DataFrame:
        """The whole sheet from A1 with every typed cell as the clerk sees it; ``text_only`` gets the
        first rows and names the columns whose number cells are shown as Excel shows them."""
        frame, top, left = self.frame, self.origin_row, self.origin_col
        head = [[""] * left + [c or "" for c in row] for row in frame.head(5).rows()]
        blank: list[list[str]] = [[] for _ in range(min(top, 5))]
        keep = set(text_only((blank + head)[:5]))
        columns = frame.get_columns()
        updates: list[tuple[int, list[int], list[str]]] = []
        for col, (rows, raws, dates) in self.typed.cells.items():
            texts = [as_typed(r) for r in raws] if col in keep else list(map(number_text, raws, dates))
            updates.append((col, rows, texts))
        updates.extend((col, rows, vals) for col, (rows, vals) in self.typed.booleans.items())
        for col, rows, texts in updates:
            if not 0 <= col - left < len(columns):
                raise XlsxError(f"a cell in column {col + 1} lies outside the sheet")
            if self.limited:
                rows, texts = rows[: bisect_left(rows, frame.height)], texts[: bisect_left(rows, frame.height)]
            if rows and (rows[0] < 0 or rows[-1] >= frame.height):
                raise XlsxError("a cell lies outside the sheet's rows")
            columns[col - left] = columns[col - left].scatter(rows, texts)
        names = [f"c{i}" for i in range(left + len(columns))]
        empty = [pl.Series(names[i], [None] * frame.height, pl.String) for i in range(left)]
        frame = pl.DataFrame([*empty, *(c.alias(names[left + i]) for i, c in enumerate(columns))])
        if top:
            above = pl.DataFrame({n: [None] * top for n in names}, schema=dict.fromkeys(names, pl.String))
            frame = pl.concat([above, frame])
        return frame


def read_sheet(path: str, *, max_columns: int = EXCEL_MAX_COLUMNS, n_rows: int | None = None) -> Sheet:
    """The first sheet (its first ``n_rows`` rows when given), or ``XlsxError``."""
    try:
        with ThreadPoolExecutor(1) as pool:  # calamine releases the GIL: the XML search runs beside it
            loading = pool.submit(_open, path, n_rows)
            typed = _scan_typed(path, n_rows)
            frame, origin_col = loading.result()
    except XlsxError:
        raise
    except _READ_ERRORS as exc:
        raise XlsxError(str(exc)) from exc
    if origin_col + frame.width > max_columns:
        raise XlsxError(f"the sheet uses column {origin_col + frame.width}, beyond column {max_columns}")
    if not typed.regular or not _placed(frame, origin_col, typed, n_rows is not None):
        return _read_by_cells(path, max_columns, n_rows, typed)
    if frame.height and frame.select(pl.any_horizontal(pl.all().str.len_chars() > EXCEL_MAX_CELL_CHARS).any()).item():
        raise XlsxError(f"a cell holds more characters than Excel's {EXCEL_MAX_CELL_CHARS}")
    return Sheet(frame, typed.origin_row or 0, origin_col, typed, limited=n_rows is not None)


def _placed(frame: pl.DataFrame, origin_col: int, typed: _Typed, limited: bool) -> bool:
    """Whether every typed cell found lands on a cell calamine read (it shows numbers and booleans
    as text too): the frame's origin was found where calamine's range starts."""
    found = [(col, cells[0]) for col, cells in typed.cells.items()]
    found += [(col, cells[0]) for col, cells in typed.booleans.items()]
    for col, rows in found:
        index = col - origin_col
        if not 0 <= index < frame.width:
            return False
        inside = rows[: bisect_left(rows, frame.height)]
        if len(inside) < len(rows) and not limited:
            return False
        if (inside and inside[0] < 0) or frame.to_series(index).gather(inside).null_count():
            return False
    return True


def _open(path: str, n_rows: int | None) -> tuple[pl.DataFrame, int]:
    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string", n_rows=n_rows)
    columns = sheet.selected_columns
    return sheet.to_polars(), (columns[0].absolute_index if columns else 0)


def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)


def _read_by_cells(path: str, max_columns: int, n_rows: int | None, typed: _Typed) -> Sheet:
    """A sheet the regex cannot follow, read by python-calamine with each cell's type."""
    try:
        sheet = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False, nrows=n_rows)
    except _READ_ERRORS as exc:
        raise XlsxError(str(exc)) from exc
    width = max((len(r) for r in rows), default=0)
    if width > max_columns:
        raise XlsxError(f"the sheet uses column {width}, beyond column {max_columns}")
    typed = _Typed(origin_row=0)
    columns: list[list[str | None]] = [[None] * len(rows) for _ in range(width)]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, float | int) and not isinstance(value, bool):
                number = float(value)
                raw = str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
                cells = typed.cells.setdefault(c, ([], [], []))
                cells[0].append(r)
                cells[1].append(raw)
                cells[2].append(False)
                continue
            text = _cell_text(value)
            if text is not None and len(text) > EXCEL_MAX_CELL_CHARS:
                raise XlsxError(f"a cell holds more characters than Excel's {EXCEL_MAX_CELL_CHARS}")
            columns[c][r] = text
    frame = pl.DataFrame(columns, schema={f"c{i}": pl.String for i in range(width)}, orient="col")
    return Sheet(frame, 0, 0, typed, limited=n_rows is not None)


def iter_rows(path: str, *, max_columns: int = EXCEL_MAX_COLUMNS, n_rows: int | None = None) -> Iterator[list[str]]:
    """Rows of the first sheet as lists of text, trailing empty cells left out (a blank row is
    ``[]``), as the clerk sees them (no column is text-only here: a number is shown as a number)."""
    frame = read_sheet(path, max_columns=max_columns, n_rows=n_rows).finish(lambda head: [])
    for row in frame.rows():
        cells = [c or "" for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        yield cells
