"""Reading uploaded member files: format sniffing, encodings, and resumable CSV streaming.

An xlsx sheet is converted once to a UTF-8 CSV beside it, so every import is processed as
CSV records with byte offsets: a resumed import seeks to its checkpoint instead of re-reading.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from core.errors import Invalid
from core.private_files import private_open
from documents import xlsx_head, xlsx_reader
from documents.xlsx_scan import XlsxLimits, scan_xlsx
from rules.member_columns import map_headers, missing_mandatory

HEADER_SCAN_ROWS = 5
DATA_SCAN_ROWS = 100_000  # blank rows tolerated between the header and the first member
MAX_FIELD = 1 << 20  # the longest field the csv module reads
csv.field_size_limit(MAX_FIELD)


@dataclass
class FileLayout:
    """What the preflight learned: format, encoding, header row and where data starts."""

    file_format: str  # "csv" or "xlsx"
    encoding: str
    header_row: int  # 1-based row number of the header
    headers: list[str]
    positions: dict[str, int]
    unknown_headers: list[str]
    data_offset: int  # CSV byte offset of the first data record (after conversion for xlsx)
    delimiter: str = ","


_XLSX_NAMES = (".xlsx", ".xlsm")


def sniff_format(path: Path, filename: str | None = None) -> str:
    """The format, "xlsx" or "csv", read from the bytes; a name ending .xlsx must hold a workbook."""
    with path.open("rb") as f:
        head = f.read(8)
    if not head:
        raise Invalid("empty_file", "文件是空的，没有任何内容")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                if "xl/workbook.xml" in z.namelist():
                    return "xlsx"
        except (zipfile.BadZipFile, OSError, ValueError):
            raise Invalid("file_malformed", "xlsx 文件已损坏，请在Excel中重新另存为 .xlsx 后上传") from None
        raise Invalid("unsupported_file", "文件不是 xlsx 或 csv 格式")
    if (filename or "").lower().endswith(_XLSX_NAMES):
        raise Invalid(
            "not_xlsx",
            "文件名是 .xlsx，但内容不是Excel工作簿（可能是改了扩展名的文本文件）。"
            "请在Excel中打开后另存为 .xlsx，或按 CSV 格式上传",
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise Invalid("unsupported_file", "不支持旧版 .xls 文件，请在Excel中另存为 .xlsx 后再上传")
    if head.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")) or b"\x00" in head:
        raise Invalid("unsupported_file", "文件不是 xlsx 或 csv 格式")
    return "csv"


def detect_encoding(path: Path) -> str:
    """utf-8-sig (BOM), utf-8, or gb18030 (a superset of GBK, as Excel saves CSV in China)."""
    with path.open("rb") as f:
        if f.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder: codecs.IncrementalDecoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        f.seek(0)
        decoder = codecs.getincrementaldecoder("gb18030")()
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            return "gb18030"
        except UnicodeDecodeError:
            raise Invalid(
                "unreadable_encoding", "无法识别文件编码，请保存为 UTF-8 或 GBK 编码的CSV，或上传xlsx"
            ) from None


class MalformedRecord(list[str]):
    """A CSV record the csv module cannot read (a bare carriage return, a NUL, an unclosed quote
    running past the field limit): its one cell is the text of its lines, cut to 1,000 characters."""


def _records(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    """CSV records of lines split at ``\n`` only; a malformed record is a ``MalformedRecord`` and
    reading goes on with the next line, so one bad line is one rejected row, not a failed file."""
    source = iter(lines)
    taken: list[str] = []

    def feed() -> Iterator[str]:
        for line in source:
            taken.append(line)
            yield line

    while True:
        try:
            for record in csv.reader(feed(), delimiter=delimiter):
                taken.clear()
                yield record
            return
        except csv.Error:
            yield MalformedRecord(["".join(taken)[:1000].rstrip("\r\n")])
            taken.clear()


def parse_records(text: str, delimiter: str) -> list[list[str]]:
    """The records of a chunk's text, read exactly as ``iter_csv`` reads the file."""
    return list(_records(io.StringIO(text, newline="\n"), delimiter))


class _LineSource:
    """Decoded lines of a binary file with the byte offset after the last line handed out."""

    def __init__(self, f: IO[bytes], encoding: str, offset: int) -> None:
        self.f = f
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        f.seek(offset)
        self.offset = offset

    def __iter__(self) -> Iterator[str]:
        readline, enc = self.f.readline, self.encoding
        while line := readline():
            self.offset += len(line)
            yield line.decode(enc)


def _dialect(first_line: str) -> str:
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def iter_csv(path: Path, encoding: str, offset: int = 0, delimiter: str = ",") -> Iterator[tuple[list[str], int]]:
    """CSV records from ``offset`` with the byte offset just after each record."""
    with path.open("rb") as f:
        if offset == 0 and encoding == "utf-8-sig":
            offset = 3
        src = _LineSource(f, encoding, offset)
        for record in _records(src, delimiter):
            yield record, src.offset


def csv_delimiter(path: Path, encoding: str) -> str:
    with path.open("rb") as f:
        first = f.readline().decode("utf-8" if encoding == "utf-8-sig" else encoding, errors="replace")
    return _dialect(first)


def _find_header(rows: list[tuple[list[Any], int]]) -> tuple[int, dict[str, int], list[str], list[str], int]:
    best: tuple[int, dict[str, int], list[str], list[str], int] | None = None
    for index, (cells, end_offset) in enumerate(rows):
        positions, unknown = map_headers(list(cells))
        if best is None or len(positions) > len(best[1]):
            best = (index + 1, positions, unknown, [str(c) if c is not None else "" for c in cells], end_offset)
    if best is None or all(not str(c or "").strip() for c in best[3]):
        raise Invalid("empty_file", "文件是空的，没有表头和数据")
    return best


def _check_header(positions: dict[str, int]) -> None:
    missing = missing_mandatory(positions)
    if missing:
        names = "、".join(c.header for c in missing)
        raise Invalid(
            "missing_columns",
            f"缺少必需的列：{names}。请使用导入模板的表头",
            details={"missing": [{"key": c.key, "header": c.header} for c in missing]},
        )


def preflight(path: Path, *, filename: str | None = None, limits: XlsxLimits | None = None) -> FileLayout:
    """Format, encoding, header and at least one data row, or a 4xx that imports nothing. An xlsx
    is pre-scanned (``scan_xlsx``) before its reader opens it."""
    fmt = sniff_format(path, filename)
    rows: Iterator[tuple[list[Any], int]]
    if fmt == "xlsx":
        limits = limits or XlsxLimits()
        scan_xlsx(path, limits)
        encoding, delimiter = "utf-8", ","
        rows = ((list(r), 0) for r in _xlsx_rows(path, limits))
    else:
        encoding = detect_encoding(path)
        delimiter = csv_delimiter(path, encoding)
        rows = ((list(r), end) for r, end in iter_csv(path, encoding, 0, delimiter))
    head = list(islice(rows, HEADER_SCAN_ROWS))
    header_row, positions, unknown, headers, offset = _find_header(head)
    _check_header(positions)
    later = chain(head[header_row:], islice(rows, DATA_SCAN_ROWS))
    if not any(any(c not in (None, "") and str(c).strip() for c in cells) for cells, _ in later):
        raise Invalid("empty_file", "文件只有表头，没有会员数据")
    if fmt == "xlsx":
        offset = 0
    return FileLayout(fmt, encoding, header_row, headers, positions, unknown, offset, delimiter)


_MALFORMED = "xlsx 文件已损坏或无法读取，请在Excel中重新另存为 .xlsx 后上传"


def _xlsx_rows(path: Path, limits: XlsxLimits) -> Iterator[list[str]]:
    """The sheet's rows from the top, read as a stream (``documents.xlsx_head``): the preflight
    stops at the first member, so an upload is never read whole before its import starts."""
    try:
        yield from xlsx_head.first_rows(str(path), max_columns=limits.max_columns)
    except xlsx_reader.XlsxError as exc:
        raise Invalid("file_malformed", _MALFORMED) from exc


# Columns whose number cells are refused: Excel keeps 15 digits of a number (an 18-digit ID number
# typed as one has lost its last digits) and a phone typed as one is not text either.
_TEXT_ONLY = ("id_number", "phone")


def _text_only_columns(head: list[list[str]]) -> list[int]:
    best: dict[str, int] = {}
    for cells in head[:HEADER_SCAN_ROWS]:
        positions, _ = map_headers(cells)
        if len(positions) > len(best):
            best = positions
    return [best[key] for key in _TEXT_ONLY if key in best]


def xlsx_to_csv(src: Path, dst: Path, limits: XlsxLimits | None = None) -> int:
    """Convert the first sheet into a UTF-8 CSV (dates as ISO text, a number cell of the ID or
    phone column as Excel shows it); returns rows written. The file is pre-scanned first: this is
    the conversion's own guard, wherever it runs."""
    limits = limits or XlsxLimits()
    scan_xlsx(src, limits)
    try:
        frame = xlsx_reader.read_sheet(str(src), max_columns=limits.max_columns).finish(_text_only_columns)
    except xlsx_reader.XlsxError as exc:
        raise Invalid("file_malformed", _MALFORMED) from exc
    tmp = dst.with_suffix(".partial")
    try:
        with private_open(tmp, "wb") as out:
            frame.write_csv(out, include_header=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dst)
    return frame.height


def _has_quotes(path: Path, offset: int) -> bool:
    with path.open("rb") as f:
        f.seek(offset)
        while block := f.read(1 << 20):
            if b'"' in block:
                return True
    return False


def chunk_ranges(path: Path, encoding: str, delimiter: str, offset: int, rows: int) -> Iterator[tuple[int, int, int]]:
    """Consecutive (start, end, record count) byte ranges of ``rows`` records each, from ``offset``.

    Without a quote character in the file every line is a record and lines are counted at C
    speed; otherwise records are found with the csv module (a quoted field may hold newlines).
    """
    start, count = offset, 0
    if not _has_quotes(path, offset):
        with path.open("rb") as f:
            f.seek(offset)
            position = offset
            for line in f:
                position += len(line)
                count += 1
                if count == rows:
                    yield start, position, count
                    start, count = position, 0
        if count:
            yield start, position, count
        return
    end = offset
    for _, end in iter_csv(path, encoding, offset, delimiter):
        count += 1
        if count == rows:
            yield start, end, count
            start, count = end, 0
    if count:
        yield start, end, count
