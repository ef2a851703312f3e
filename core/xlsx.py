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


class XlsxError(ValueError):
    """The file is not a readable workbook."""


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
    return "".join(parts)


def _first_sheet_path(z: zipfile.ZipFile) -> str:
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


def _shared_strings(z: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in z.namelist():
        return []
    strings: list[str] = []
    with z.open("xl/sharedStrings.xml") as f:
        for _, elem in iterparse(f):
            if _local(elem.tag) == "si":
                strings.append(_texts(elem))
                elem.clear()
    return strings


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


def _cell(elem: Element, tags: _Sheet, strings: list[str], date_styles: set[str]) -> str:
    kind = elem.get("t")
    if kind == "inlineStr":
        inline = elem.find(tags.inline)
        return _texts(inline) if inline is not None else ""
    value = elem.findtext(tags.v) or ""
    if kind is None or kind == "n":
        return _number(value, elem.get("s") in date_styles) if value else ""
    if kind == "s":
        return strings[int(value)] if value else ""
    if kind == "b":
        return "是" if value == "1" else "否"
    if kind == "e":
        return ""
    return value  # "str" (a formula's text) and "d" (an ISO date)


def _rows(f: IO[bytes], strings: list[str], date_styles: set[str]) -> Iterator[list[str]]:
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
            if ref:
                column = _column_index(ref)
                if column > len(row):
                    row.extend([""] * (column - len(row)))
            row.append(_cell(elem, tags, strings, date_styles))
        elif tag == tags.row:
            number = int(elem.get("r") or expected)
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


def iter_rows(path: str) -> Iterator[list[str]]:
    """Rows of the first sheet as lists of text."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(str(exc)) from exc
    with z:
        try:
            sheet = _first_sheet_path(z)
            strings, date_styles = _shared_strings(z), _date_styles(z)
            f = z.open(sheet)
        except (KeyError, SyntaxError, ValueError) as exc:
            raise XlsxError(str(exc)) from exc
        with f:
            try:
                yield from _rows(f, strings, date_styles)
            except SyntaxError as exc:
                raise XlsxError(str(exc)) from exc
