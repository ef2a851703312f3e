"""One chunk of an import file, checked in a separate process: read its byte range, parse,
validate, and format each valid row as a PostgreSQL COPY line (all but the member number).

The committing side (``activities/member_import.py``) stays in file order and owns the
database; this side only burns CPU, so several chunks are checked at once on several cores.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from core.child_processes import end_with_parent
from core.errors import AppError
from documents.tabular import MalformedRecord, parse_records, xlsx_to_csv
from documents.xlsx_scan import XlsxLimits
from models.states import CardStatus
from rules.member_rows import RECORD_FIELDS, Problem
from rules.row_validator import RowValidator

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
    rows: list[tuple[int, str, str, bytes]] = field(default_factory=list)  # (row, id number, phone, COPY line)
    problems: list[tuple[int, Problem]] = field(default_factory=list)
    raw: dict[int, list[str]] = field(default_factory=dict)  # rejected rows as uploaded


def read_records(job: ChunkJob, spec: ChunkSpec) -> list[list[str]]:
    with open(job.data_path, "rb") as f:
        f.seek(spec.start)
        data = f.read(spec.end - spec.start)
    encoding = "utf-8" if job.encoding == "utf-8-sig" else job.encoding
    return parse_records(data.decode(encoding), job.delimiter)


MALFORMED = Problem(
    None,
    "malformed_line",
    "此行无法按 CSV 读取（含单独的回车符、空字符或不成对的引号），请在Excel中检查此行后重新保存上传",
)


_validators: dict[tuple[Any, ...], RowValidator] = {}


def _validator(job: ChunkJob) -> RowValidator:
    key = (tuple(sorted(job.positions.items())), job.today)
    found = _validators.get(key)
    if found is None:
        if len(_validators) > 32:
            _validators.clear()
        found = _validators[key] = RowValidator(job.positions, job.today)
    return found


def check_chunk(job: ChunkJob, spec: ChunkSpec) -> CheckedChunk:
    """Parse and validate one chunk; runs in a pool process (arguments and result are pickled)."""
    records = read_records(job, spec)
    malformed = {i for i, record in enumerate(records) if isinstance(record, MalformedRecord)}
    checked = _validator(job).check([[] if i in malformed else r for i, r in enumerate(records)])
    tail = f"\t{job.org_id}\t{job.district_code}\t{CardStatus.NONE.value}\t{job.import_id}\t"
    stamps = f"\t{job.stamp}\t{job.stamp}\t"
    out = CheckedChunk(spec)
    ids, phones = checked.values["id_number"], checked.values["phone"]
    for i, line in enumerate(checked.copy_lines()):
        row_no = spec.first_row + i
        if checked.good(i):
            out.rows.append((row_no, ids[i], phones[i], f"{line}{tail}{row_no}{stamps}".encode()))
        elif i in malformed:
            out.problems.append((row_no, MALFORMED))
            out.raw[row_no] = list(records[i])
        elif not checked.blank[i]:
            out.problems.extend((row_no, p) for p in checked.problems[i])
            out.raw[row_no] = records[i]
    return out


OUT_OF_MEMORY = "文件过大或结构异常，读取时超出了导入进程的内存上限，请拆分成几个较小的文件后重新上传"


def start_import_process(megabytes: int) -> None:
    """A pool process's initializer: it ends with the worker, and its memory is capped."""
    end_with_parent()
    limit_memory(megabytes)


def limit_memory(megabytes: int) -> None:
    """A pool process's initializer: cap its address space, so that a file needing more than the
    limit fails there with a MemoryError instead of taking the worker's machine."""
    if megabytes > 0:
        limit = megabytes << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


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
