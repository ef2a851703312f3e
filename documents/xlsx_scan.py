"""The pre-scan of an uploaded xlsx package, run before any reader ever opens it.

A zip's directory states every part's uncompressed size, and Python's zip reader never inflates
a part past the size its directory states (it fails the part's CRC instead), so those sizes
bound what any reading of the file can cost. Beyond them the scan streams the two parts a
reader builds rows from, the first sheet and the shared strings, through a fixed-size buffer
with byte searches only (no XML parser, no per-cell objects): the sheet's ``<dimension>``, the
column letters and row numbers of its references, one text longer than any cell Excel can hold,
and the number of shared strings. Whatever reader converts the sheet afterwards (this module
knows none) sees only a package within these limits.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.errors import AppError, Invalid
from documents.xlsx_reader import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, SHARED_STRINGS, XlsxError, first_sheet_path

# A block of the inflated XML with no "<" in it is a text (or a tag) longer than the longest
# cell Excel can hold: 32,767 characters, at most 5 bytes each in UTF-8 or as an XML entity.
_BLOCK = 256 * 1024
_CARRY = 64  # bytes of the previous block searched again, for a pattern cut by a block's end
_RATIO_FLOOR = 1 << 20  # parts smaller than this may compress as well as they like
_SMALL_PART = 16 << 20  # the workbook, its relationships and styles: read whole by the reader
_SMALL_PARTS = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml")
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s[^>]*?ref="([^"]*)"')
_REF = re.compile(rb"([A-Za-z]*)(\d*)")
# A damaged zip or XML, an encrypted part (RuntimeError), a compression method Python lacks.
_BROKEN = (
    XlsxError, ValueError, SyntaxError, KeyError, RuntimeError, NotImplementedError, EOFError, OSError,
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error,
)  # fmt: skip


@dataclass(frozen=True)
class XlsxLimits:
    """What an uploaded workbook may hold (the ``import_xlsx_*`` settings)."""

    max_part_bytes: int = 1 << 30
    max_total_bytes: int = 3 << 29
    max_ratio: float = 200.0
    max_columns: int = 256
    max_strings: int = 2_000_000

    @classmethod
    def of(cls, settings: Any) -> XlsxLimits:
        return cls(
            max_part_bytes=settings.import_xlsx_max_part_bytes,
            max_total_bytes=settings.import_xlsx_max_total_bytes,
            max_ratio=settings.import_xlsx_max_ratio,
            max_columns=min(settings.import_xlsx_max_columns, EXCEL_MAX_COLUMNS),
            max_strings=settings.import_xlsx_max_strings,
        )


def _too_large(message: str, **details: Any) -> AppError:
    return AppError("file_too_large", message, status=413, details=details)


def _malformed(message: str, **details: Any) -> Invalid:
    return Invalid("file_malformed", message, details=details or None)


def _mb(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MB"


def scan_xlsx(path: Path, limits: XlsxLimits) -> None:
    """Refuse a package beyond ``limits`` (413 ``file_too_large``) or not a workbook (422 ``file_malformed``)."""
    try:
        with zipfile.ZipFile(path) as z:
            _check_directory(z.infolist(), limits)
            sheet = first_sheet_path(z)
            with z.open(sheet) as f:
                _scan_sheet(f, limits)
            if SHARED_STRINGS in z.namelist():
                with z.open(SHARED_STRINGS) as f:
                    _scan_strings(f, limits)
    except AppError:
        raise
    except _BROKEN as exc:
        raise _malformed("xlsx 文件已损坏或不是有效的Excel工作簿，请在Excel中重新另存为 .xlsx 后上传") from exc


def _check_directory(infos: list[zipfile.ZipInfo], limits: XlsxLimits) -> None:
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        if size > limits.max_part_bytes or (info.filename in _SMALL_PARTS and size > _SMALL_PART):
            raise _too_large(
                f"xlsx 文件解压后过大（其中一部分达 {_mb(size)}），请拆分成几个文件后上传",
                part=info.filename, bytes=size,
            )  # fmt: skip
        if size > _RATIO_FLOOR and size > limits.max_ratio * max(info.compress_size, 1):
            raise _too_large(
                f"xlsx 文件的压缩比异常（{info.compress_size:,} 字节解压后为 {_mb(size)}），不是正常的Excel文件",
                part=info.filename, bytes=size, compressed_bytes=info.compress_size,
            )  # fmt: skip
    if total > limits.max_total_bytes:
        raise _too_large(f"xlsx 文件解压后共 {_mb(total)}，超过 {_mb(limits.max_total_bytes)}", bytes=total)


def _blocks(f: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """(block, block with the tail of the previous one before it) over the inflated part."""
    tail = b""
    while block := f.read(_BLOCK):
        if len(block) == _BLOCK and b"<" not in block:
            raise _malformed("xlsx 文件中有超过 Excel 上限（32767 个字符）的单元格内容，不是正常的Excel文件")
        yield block, tail + block
        tail = block[-_CARRY:]


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


def _letters(column: int) -> int:
    """How many letters the name of column ``column`` (1-based) has."""
    count = 0
    while column > 0:
        column, count = (column - 1) // 26, count + 1
    return count


def _check_ref(ref: bytes, limits: XlsxLimits) -> None:
    match = _REF.fullmatch(ref)
    letters, digits = (match.group(1), match.group(2)) if match else (b"", b"")
    if len(letters) > 3 or _column_number(letters) > limits.max_columns:
        raise _malformed(
            f"xlsx 工作表用到了第 {limits.max_columns} 列以后的列（{ref[:12].decode('ascii', 'replace')}），"
            "请删去多余的列后重新上传",
            max_columns=limits.max_columns,
        )
    if len(digits) > 7 or (digits and int(digits) > EXCEL_MAX_ROWS):
        raise _malformed(f"xlsx 工作表的行号超过了 Excel 的上限 {EXCEL_MAX_ROWS:,} 行")


def _scan_sheet(f: IO[bytes], limits: XlsxLimits) -> None:
    """The dimension, then every cell's column letters and every row's number."""
    # A cell reference with as many letters as the last allowed column's or more is checked
    # (rare: only sheets wider than 26 columns have such), and so is a row number of seven
    # digits or more. No closing quote is needed: a reference cut by a block's end is checked on
    # what it has (a prefix names an earlier column and row), and whole in the next block.
    # Writers put one space between attributes; another separator is left to the reader's
    # own column and row limits.
    refs = re.compile(rb' r="([A-Za-z]{%d,}\d*|\d{7,})' % _letters(limits.max_columns))
    first = True
    for block, searched in _blocks(f):
        if first:
            first = False
            dimension = _DIMENSION.search(block)
            if dimension:
                for ref in dimension.group(1).replace(b"$", b"").split(b":"):
                    _check_ref(ref, limits)
        for match in refs.finditer(searched):
            _check_ref(match.group(1), limits)


def _scan_strings(f: IO[bytes], limits: XlsxLimits) -> None:
    """The number of shared strings (``<si>`` items), counted without parsing one (a prefixed
    ``<x:si>`` is left to the reader, whose table stops at the same limit)."""
    count = 0
    for block, searched in _blocks(f):
        # Count the items that end inside this block: those cut by the previous block's end
        # start at most 3 bytes before it.
        rest = searched[max(len(searched) - len(block) - 3, 0) :]
        count += rest.count(b"<si>") + rest.count(b"<si ")
        if count > limits.max_strings:
            raise _too_large(
                f"xlsx 文件的不同文本超过 {limits.max_strings:,} 个，请拆分成几个文件后上传",
                max_strings=limits.max_strings,
            )
