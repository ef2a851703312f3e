"""One chunk of an import file, checked in a separate process: read its byte range, parse it
into columns, apply the member rules as column expressions (``rules.member_frame``), and format
each valid row as a PostgreSQL COPY line (all but the member number).

The committing side (``activities/member_import.py``) stays in file order and owns the
database; this side only burns CPU, so several chunks are checked at once on several cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from core.child_processes import end_with_parent
from core.errors import AppError
from documents.tabular import MAX_FIELD, MalformedRecord, parse_records, xlsx_to_csv
from documents.xlsx_scan import XlsxLimits
from models.states import CardStatus
from rules.member_frame import FrameChecker
from rules.member_rows import RECORD_FIELDS, Problem

# Members COPY columns: the line a chunk formats, then the member number the committer appends.
LINE_COLUMNS = (
    *RECORD_FIELDS,
    "org_id",
    "district_code",
    "card_status",
    "source_import_id",
    "source_row",
    "created_at",
    "updated_at",
)
COPY_COLUMNS = (*LINE_COLUMNS, "member_no")


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk of one import slice shares."""

    import_id: int
    org_id: int
    district_code: str
    data_path: str
    encoding: str
    delimiter: str
    positions: dict[str, int]
    today: date
    stamp: str  # created_at / updated_at of the rows, ISO text


@dataclass(frozen=True)
class ChunkSpec:
    start: int  # byte offsets of the chunk's records in the data file
    end: int
    first_row: int  # the clerk's row number of the first record
    count: int


@dataclass
class CheckedChunk:
    spec: ChunkSpec
    # the good rows: their row numbers, ID numbers, phones, and COPY lines (all but the member
    # number) joined by newlines: one bytes object crosses from the process, not a tuple a row
    row_nos: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    payload: bytes = b""
    problems: list[tuple[int, Problem]] = field(default_factory=list)
    raw: dict[int, list[str]] = field(default_factory=dict)  # rejected rows as uploaded

    def lines(self) -> list[bytes]:
        return self.payload.split(b"\n") if self.payload else []

    def rows(self) -> list[tuple[int, str, str, bytes]]:
        """(row, ID number, phone, COPY line) of each good row."""
        return list(zip(self.row_nos, self.ids, self.phones, self.lines(), strict=True))


def read_records(job: ChunkJob, spec: ChunkSpec) -> list[list[str]]:
    return parse_records(_chunk_text(job, spec), job.delimiter)


MALFORMED = Problem(
    None,
    "malformed_line",
    "此行无法按 CSV 读取（含单独的回车符、空字符或不成对的引号），请在Excel中检查此行后重新保存上传",
)


_checkers: dict[tuple[Any, ...], FrameChecker] = {}


def _checker(job: ChunkJob) -> FrameChecker:
    key = (tuple(sorted(job.positions.items())), job.today)
    found = _checkers.get(key)
    if found is None:
        if len(_checkers) > 32:
            _checkers.clear()
        found = _checkers[key] = FrameChecker(job.positions, job.today)
    return found


def _plain_lines(text: str, count: int) -> list[str] | None:
    """The chunk's lines when each line is one record (no quote, NUL or bare carriage return, no
    line past the field limit) and there are ``count`` of them; otherwise None."""
    if '"' in text or "\x00" in text or text.count("\r") != text.count("\r\n") or len(text) > MAX_FIELD * count:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != count or (len(text) > MAX_FIELD and max(map(len, lines)) > MAX_FIELD):
        return None
    return lines


def check_chunk(job: ChunkJob, spec: ChunkSpec) -> CheckedChunk:
    """Parse and check one chunk; runs in a pool process (arguments and result are pickled). A
    chunk of plain lines is split into columns by polars; one with quotes (a field may hold a
    newline or a delimiter) or a malformed line is read by the csv module first."""
    checker = _checker(job)
    text = _chunk_text(job, spec)
    lines = _plain_lines(text, spec.count)
    records: list[list[str]] | None = None
    malformed: set[int] = set()
    if lines is not None:
        frame, blank = checker.frame_of_lines(lines, job.delimiter)
    else:
        records = parse_records(text, job.delimiter)
        malformed = {i for i, record in enumerate(records) if isinstance(record, MalformedRecord)}
        frame, blank = checker.frame_of_rows([[] if i in malformed else r for i, r in enumerate(records)])
    checked = checker.check_frame(frame, blank)
    tail = f"\t{job.org_id}\t{job.district_code}\t{CardStatus.NONE.value}\t{job.import_id}\t"
    stamps = f"\t{job.stamp}\t{job.stamp}\t"
    out = CheckedChunk(spec)
    good = [i for i in range(len(checked)) if checked.good(i)]
    first = spec.first_row
    out.row_nos = [first + i for i in good]
    out.ids = [checked.id_numbers[i] or "" for i in good]
    out.phones = [checked.phones[i] or "" for i in good]
    if good:
        index = pl.Series(good, dtype=pl.UInt32)
        numbers = pl.Series(out.row_nos, dtype=pl.Int64).cast(pl.String)
        parts = pl.DataFrame({"line": checked.lines.gather(index), "row": numbers})
        joined = parts.select(
            pl.concat_str([pl.col("line"), pl.lit(tail), pl.col("row"), pl.lit(stamps)]).str.join("\n")
        )
        out.payload = str(joined.item()).encode()
    bad = sorted(set(checked.problems) | malformed)
    if bad:
        if records is None:
            records = [_cells(lines[i] if lines else "", job.delimiter) for i in range(len(checked))]
        for i in bad:
            if i in malformed:
                out.problems.append((first + i, MALFORMED))
                out.raw[first + i] = list(records[i])
            elif not checked.blank[i]:
                out.problems.extend((first + i, p) for p in checked.problems[i])
                out.raw[first + i] = records[i]
    return out


def _chunk_text(job: ChunkJob, spec: ChunkSpec) -> str:
    with open(job.data_path, "rb") as f:
        f.seek(spec.start)
        data = f.read(spec.end - spec.start)
    return data.decode("utf-8" if job.encoding == "utf-8-sig" else job.encoding)


def _cells(line: str, delimiter: str) -> list[str]:
    """A plain line's cells as the csv module gives them (its line end dropped)."""
    return line.removesuffix("\r").split(delimiter)


OUT_OF_MEMORY = "文件过大或结构异常，读取时超出了导入进程的内存上限，请拆分成几个较小的文件后重新上传"


def start_import_process(megabytes: int) -> None:
    """A pool process's initializer: it ends with the worker. Its memory is held to ``megabytes``
    of resident memory by the worker's watchdog (``activities.import_memory``): an address-space
    limit cannot be used, the readers' thread pools reserve more address space than they use."""
    end_with_parent()


@dataclass(frozen=True)
class Converted:
    """What converting an xlsx to CSV came to: its rows, or the refusal's code and message."""

    rows: int = 0
    code: str | None = None
    message: str | None = None


def convert_xlsx(src: str, dst: str, limits: XlsxLimits) -> Converted:
    """Pre-scan and convert an uploaded xlsx in a pool process (where the memory limit holds)."""
    try:
        return Converted(rows=xlsx_to_csv(Path(src), Path(dst), limits))
    except AppError as exc:
        return Converted(code=exc.code, message=exc.message)
    except MemoryError:
        return Converted(code="file_too_large", message=OUT_OF_MEMORY)


def warm_up() -> int:
    """Import everything a pool process needs before the first real chunk arrives."""
    return len(RECORD_FIELDS)
