"""The first rows of an xlsx sheet, read as a stream: what an upload's preflight looks at (the
header and the first member) without reading the whole sheet, as calamine does.

The sheet's XML is parsed only as far as the rows asked for, and the shared strings only as far
as the highest one those rows use. Cells come out as the reader (``documents.xlsx_reader``) shows
them: text, numbers without ``.0``, a date style as the ISO date, booleans as 是/否.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from typing import IO
from xml.etree.ElementTree import Element

from documents.xlsx_reader import (
    SHARED_STRINGS,
    XlsxError,
    column_index,
    date_style_ids,
    first_sheet_path,
    iterparse,
    local_name,
    number_text,
)

_READ_ERRORS = (SyntaxError, ValueError, KeyError, IndexError, EOFError, zlib.error, zipfile.BadZipFile, RuntimeError)


# Shared strings the preflight reads at most: a header's texts come first in the table (Excel
# writes them in order of first use); a first member's text further on reads as "not blank".
STRINGS_READ = 20_000
_UNREAD = "…"


class _Strings:
    """Shared strings read on demand, in order, up to the one asked for (at most ``STRINGS_READ``:
    the preflight never holds a big workbook's whole table)."""

    def __init__(self, z: zipfile.ZipFile) -> None:
        self.items: list[str] = []
        self._source: Iterator[str] | None = (
            self._parse(z.open(SHARED_STRINGS)) if SHARED_STRINGS in z.namelist() else None
        )

    @staticmethod
    def _parse(f: IO[bytes]) -> Iterator[str]:
        with f:
            for _, elem in iterparse(f):
                if local_name(elem.tag) == "si":
                    yield _texts(elem)
                    elem.clear()

    def __getitem__(self, index: int) -> str:
        if index >= STRINGS_READ:
            return _UNREAD
        while len(self.items) <= index and self._source is not None:
            try:
                self.items.append(next(self._source))
            except StopIteration:
                self._source = None
        return self.items[index] if index < len(self.items) else ""


def _texts(elem: Element) -> str:
    """The text of a string item or an inline string: its ``t`` runs, phonetic runs left out."""
    parts: list[str] = []
    for node in elem.iter():
        name = local_name(node.tag)
        if name == "t" and node.text:
            parts.append(node.text)
        elif name == "rPh":
            node.clear()
    return "".join(parts)


def _cell(elem: Element, strings: _Strings, date_styles: set[bytes]) -> str:
    kind = elem.get("t")
    value = next((n.text or "" for n in elem if local_name(n.tag) == "v"), "")
    if kind == "inlineStr":
        inline = next((n for n in elem if local_name(n.tag) == "is"), None)
        return _texts(inline) if inline is not None else ""
    if kind == "s":
        return strings[int(value)] if value else ""
    if kind == "b":
        return "是" if value == "1" else "否"
    if kind == "e":
        return ""
    if kind in (None, "n"):
        return number_text(value, (elem.get("s") or "").encode() in date_styles) if value else ""
    return value  # "str" (a formula's text) and "d" (an ISO date)


def first_rows(path: str, *, max_columns: int) -> Iterator[list[str]]:
    """Rows of the first sheet from the top, read lazily (stop iterating to stop reading); rows
    the sheet leaves out are empty rows."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(str(exc)) from exc
    with z:
        try:
            sheet, date_styles, strings = z.open(first_sheet_path(z)), date_style_ids(z), _Strings(z)
        except (*_READ_ERRORS, NotImplementedError) as exc:
            raise XlsxError(str(exc)) from exc
        with sheet:
            try:
                yield from _rows(sheet, strings, date_styles, max_columns)
            except _READ_ERRORS as exc:
                raise XlsxError(str(exc)) from exc


def _rows(f: IO[bytes], strings: _Strings, date_styles: set[bytes], max_columns: int) -> Iterator[list[str]]:
    expected = 1
    row: list[str] = []
    for _, elem in iterparse(f):
        name = local_name(elem.tag)
        if name == "c":
            ref = elem.get("r") or ""
            letters = ref.rstrip("0123456789").encode()
            column = column_index(letters) if letters else len(row)
            if column >= max_columns:
                raise XlsxError(f"cell {ref or column + 1} is beyond column {max_columns}")
            row.extend([""] * (column - len(row)))
            row.append(_cell(elem, strings, date_styles))
        elif name == "row":
            number = int(elem.get("r") or expected)
            while expected < number:
                yield []
                expected += 1
            while row and row[-1] == "":
                row.pop()
            yield row
            row, expected = [], number + 1
            elem.clear()
