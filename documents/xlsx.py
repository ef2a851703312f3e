"""A streaming reader for the first sheet of an .xlsx file: rows of text, in constant memory.

It reads the sheet's XML with the C parser and drops every row once read, so a 100,000-row
file never sits in memory (the shared-strings table, which Excel keeps once per distinct
text, is the only thing held). Cells come out as the clerk sees them: numbers without a
spurious ``.0``, date-formatted numbers as ISO dates, booleans as 是/否, empty rows kept so
that row numbers match the spreadsheet's.
"""

from __future__ import annotations

import posixpath
import pyexpat
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import IO
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import iterparse as _iterparse

# Uploaded XML is untrusted. ElementTree never loads external entities, and expat 2.4 and later
# cap entity amplification ("billion laughs"); older expat is refused rather than trusted.
if pyexpat.version_info < (2, 4, 1):
    raise ImportError("expat 2.4.1 or later is needed to read uploaded workbooks safely")
iterparse = _iterparse

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_EXCEL_EPOCH = date(1899, 12, 30)
# Built-in number formats that are dates (ECMA-376 18.8.30, and those of the Chinese locale).
_DATE_FORMAT_IDS = frozenset({14, 15, 16, 17, 22, 27, 28, 29, 30, 31, 34, 35, 36, 50, 51, 52, 53, 54, 55, 56, 57, 58})
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


# Excel's own limits: a workbook beyond them was not made by Excel (or by any honest writer).
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
SHARED_STRINGS = "xl/sharedStrings.xml"


class XlsxError(ValueError):
    """The file is not a readable workbook."""


class NumberText(str):
    """A number cell's text as the clerk sees it; ``raw`` is the stored value (``3.1010519810203E+17``)."""

    raw: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _texts(elem: Element) -> str:
    """The text of a string item: its runs, without phonetic guides (rPh)."""
    parts: list[str] = []

    def walk(node: Element) -> None:
        for child in node:
            name = _local(child.tag)
            if name == "t":
                parts.append(child.text or "")
            elif name != "rPh":
                walk(child)

    walk(elem)
    text = "".join(parts)
    if len(text) > EXCEL_MAX_CELL_CHARS:
        raise XlsxError(f"a cell holds {len(text)} characters, more than Excel's {EXCEL_MAX_CELL_CHARS}")
    return text


def first_sheet_path(z: zipfile.ZipFile) -> str:
    with z.open("xl/workbook.xml") as f:
        sheet = next((e for _, e in iterparse(f) if _local(e.tag) == "sheet"), None)
    if sheet is None:
        raise XlsxError("the workbook has no sheet")
    rel_id = sheet.get(f"{{{_REL_NS}}}id")
    with z.open("xl/_rels/workbook.xml.rels") as f:
        for _, rel in iterparse(f):
            if _local(rel.tag) == "Relationship" and rel.get("Id") == rel_id:
                target = rel.get("Target", "")
                return target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
    raise XlsxError("the first sheet is missing")


class _SharedStrings:
    """The shared-strings table, parsed only as far as the cells read so far refer to it: reading a
    header row never loads a table of a million strings, and no table grows past ``limit``."""

    def __init__(self, z: zipfile.ZipFile, limit: int) -> None:
        self.items: list[str] = []
        self.limit = limit
        self._file: IO[bytes] | None = z.open(SHARED_STRINGS) if SHARED_STRINGS in z.namelist() else None
        self._source = self._parse(self._file) if self._file is not None else None

    @staticmethod
    def _parse(f: IO[bytes]) -> Iterator[str]:
        root: Element | None = None
        for event, elem in iterparse(f, events=("start", "end")):
            if root is None:
                root = elem
            elif event == "end" and _local(elem.tag) == "si":
                yield _texts(elem)
                root.clear()  # the table keeps no element once its text is taken

    def __getitem__(self, index: int) -> str:
        if index < 0 or index >= self.limit:
            raise XlsxError(f"shared string {index} is out of range")
        while len(self.items) <= index:
            text = next(self._source, None) if self._source is not None else None
            if text is None:
                raise XlsxError(f"shared string {index} is missing")
            self.items.append(text)
        return self.items[index]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _is_date_format(code: str) -> bool:
    bare = _QUOTED.sub("", code).lower()
    return "y" in bare or "d" in bare


def _date_styles(z: zipfile.ZipFile) -> set[str]:
    """Indexes (as the ``s`` attribute writes them) of the cell formats that show a date."""
    if "xl/styles.xml" not in z.namelist():
        return set()
    custom: dict[int, str] = {}
    formats: list[int] = []
    in_cell_xfs = False
    with z.open("xl/styles.xml") as f:
        for event, elem in iterparse(f, events=("start", "end")):
            name = _local(elem.tag)
            if name == "cellXfs":
                in_cell_xfs = event == "start"
            elif event == "end" and name == "numFmt":
                custom[int(elem.get("numFmtId", "0"))] = elem.get("formatCode", "")
            elif event == "end" and name == "xf" and in_cell_xfs:
                formats.append(int(elem.get("numFmtId", "0")))
    return {
        str(index)
        for index, fmt in enumerate(formats)
        if fmt in _DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt]))
    }


_COLUMNS: dict[str, int] = {}


def _column_index(ref: str) -> int:
    """0-based column of a cell reference such as ``AB12``."""
    letters = ref.rstrip("0123456789")
    index = _COLUMNS.get(letters)
    if index is None:
        index = -1
        for ch in letters.upper():
            index = (index + 1) * 26 + ord(ch) - 65
        _COLUMNS[letters] = index
    return index


def _number(text: str, is_date: bool) -> str:
    if is_date:
        try:
            return (_EXCEL_EPOCH + timedelta(days=int(float(text)))).isoformat()
        except (ValueError, OverflowError):
            return text
    if text.endswith(".0"):
        return text[:-2]
    if "E" in text or "e" in text:
        value = float(text)
        return str(int(value)) if value.is_integer() else text
    return text


class _Sheet:
    """Tag names in the sheet's own namespace (transitional or strict), resolved once."""

    def __init__(self, namespace: str) -> None:
        self.c, self.v, self.row = f"{namespace}c", f"{namespace}v", f"{namespace}row"
        self.inline, self.sheet_data = f"{namespace}is", f"{namespace}sheetData"


def _cell(elem: Element, tags: _Sheet, strings: _SharedStrings, date_styles: set[str]) -> str:
    kind = elem.get("t")
    if kind == "inlineStr":
        inline = elem.find(tags.inline)
        return _texts(inline) if inline is not None else ""
    value = elem.findtext(tags.v) or ""
    if kind is None or kind == "n":
        if not value:
            return ""
        number = NumberText(_number(value, elem.get("s") in date_styles))
        number.raw = value
        return number
    if kind == "s":
        return strings[int(value)] if value else ""
    if kind == "b":
        return "是" if value == "1" else "否"
    if kind == "e":
        return ""
    return value  # "str" (a formula's text) and "d" (an ISO date)


def _rows(f: IO[bytes], strings: _SharedStrings, date_styles: set[str], max_columns: int) -> Iterator[list[str]]:
    expected = 1
    tags: _Sheet | None = None
    sheet_data: Element | None = None
    row: list[str] = []
    for event, elem in iterparse(f, events=("start", "end")):
        if tags is None:
            tags = _Sheet(elem.tag[: elem.tag.index("}") + 1] if elem.tag.startswith("{") else "")
        if event == "start":
            if elem.tag == tags.sheet_data:
                sheet_data = elem
            continue
        tag = elem.tag
        if tag == tags.c:
            ref = elem.get("r")
            column = _column_index(ref) if ref else len(row)
            if column >= max_columns:
                raise XlsxError(f"cell {ref or column + 1} is beyond column {max_columns}")
            if column > len(row):
                row.extend([""] * (column - len(row)))
            row.append(_cell(elem, tags, strings, date_styles))
        elif tag == tags.row:
            number = int(elem.get("r") or expected)
            if number > EXCEL_MAX_ROWS:
                raise XlsxError(f"row {number} is beyond Excel's last row")
            while expected < number:  # rows Excel left out are empty rows
                yield []
                expected += 1
            while row and row[-1] == "":
                row.pop()
            yield row
            row = []
            expected = number + 1
            if sheet_data is not None:
                sheet_data.remove(elem)


_READ_ERRORS = (SyntaxError, ValueError, KeyError, IndexError, EOFError, RecursionError, zlib.error, zipfile.BadZipFile)


def iter_rows(
    path: str, *, max_columns: int = EXCEL_MAX_COLUMNS, max_strings: int = EXCEL_MAX_ROWS
) -> Iterator[list[str]]:
    """Rows of the first sheet as lists of text; number cells are ``NumberText``. A cell past
    ``max_columns`` or a shared string past ``max_strings`` makes the file unreadable."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(str(exc)) from exc
    with z:
        try:
            sheet = first_sheet_path(z)
            date_styles = _date_styles(z)
            strings = _SharedStrings(z, max_strings)
            f = z.open(sheet)
        except (*_READ_ERRORS, RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
            raise XlsxError(str(exc)) from exc
        with f:
            try:
                yield from _rows(f, strings, date_styles, max_columns)
            except _READ_ERRORS as exc:
                raise XlsxError(str(exc)) from exc
            finally:
                strings.close()
