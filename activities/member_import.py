"""Member import activities: prepare the stored file, commit chunks, record the outcome.

Each chunk is one transaction that inserts its members, its rejected rows and the import's
checkpoint together, so a retried or resumed activity never adds a member twice.
"""

from __future__ import annotations

import multiprocessing
import operator
import os
import time
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Json
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.import_chunks import (
    COPY_COLUMNS,
    OUT_OF_MEMORY,
    CheckedChunk,
    ChunkJob,
    ChunkSpec,
    check_chunk,
    convert_xlsx,
    read_records,
    start_import_process,
    warm_up,
)
from activities.import_memory import MemoryWatchdog
from activities.import_outcome import end_import
from core.db import Database
from core.errors import AppError
from core.logging import get_logger
from core.private_files import remove_quietly
from core.settings import Settings
from documents.tabular import chunk_ranges, preflight
from documents.xlsx_scan import XlsxLimits
from models.member_import import MemberImport
from models.states import ImportStatus
from rules.calendar import today
from rules.member_columns import BY_KEY
from rules.member_rows import Problem
from workflows.member_import import FinishInput, ImportInput, SliceResult

log = get_logger(__name__)
MAX_SEQUENCE = 9_999_999


class MemberImportActivities:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._executor: Executor | None = None
        self._watchdog: MemoryWatchdog | None = None

    def _today(self) -> date:
        return today(self.settings.timezone)

    @activity.defn(name="prepare_import")
    def prepare_import(self, inp: ImportInput) -> None:
        """Convert an xlsx to CSV once and record where the data starts."""
        with self.db.session() as session:
            imp = session.get(MemberImport, inp.import_id)
            if imp is None:
                raise ApplicationError(f"导入 {inp.import_id} 不存在", non_retryable=True)
            if imp.data_path is not None:
                return  # prepared by an earlier attempt
            source = Path(imp.stored_path)
            if not source.exists():
                raise ApplicationError("上传的文件已不存在", type="file_missing", non_retryable=True)
            data = source
            if imp.file_format == "xlsx":
                data = source.with_suffix(".csv")
                self._convert(source, data)
            if imp.file_format == "xlsx" or not imp.positions:  # a CSV's layout was found at its upload
                try:
                    layout = preflight(data)
                except AppError as exc:
                    raise ApplicationError(exc.message, type=exc.code, non_retryable=True) from None
                imp.encoding, imp.header_row, imp.positions = layout.encoding, layout.header_row, layout.positions
                imp.headers = layout.headers
                imp.delimiter = layout.delimiter
                imp.next_offset = layout.data_offset
            imp.next_row = 0
            imp.data_path = str(data)
            imp.data_bytes = data.stat().st_size
            imp.status = ImportStatus.RUNNING
            session.add(imp)
            session.commit()

    @activity.defn(name="import_slice")
    def import_slice(self, inp: ImportInput) -> SliceResult:
        """Check up to ``import_slice_chunks`` chunks from the checkpoint on, several at once in the
        process pool, and commit them here one by one in file order."""
        with self.db.connect() as conn:
            imp = _load(conn, inp.import_id)
            job = ChunkJob(
                import_id=inp.import_id,
                org_id=imp["org_id"],
                district_code=imp["district_code"],
                data_path=imp["data_path"],
                encoding=imp["encoding"],
                delimiter=imp["delimiter"],
                positions=imp["positions"],
                today=self._today(),
                stamp=datetime.now(UTC).isoformat(),
            )
            ranges = chunk_ranges(
                Path(job.data_path), job.encoding, job.delimiter, imp["next_offset"], self.settings.import_chunk_rows
            )
            first_row = imp["header_row"] + imp["next_row"] + 1
            pool, ahead = self._pool(), max(2, 2 * self.settings.import_processes)
            inflight: deque[Future[CheckedChunk]] = deque()
            submitted = 0
            timing = _Timing()
            try:
                for start, end, count in islice(ranges, self.settings.import_slice_chunks):
                    inflight.append(pool.submit(check_chunk, job, ChunkSpec(start, end, first_row, count)))
                    first_row += count
                    submitted += 1
                    if len(inflight) >= ahead:
                        self._commit(conn, imp, job, timing.waited(inflight.popleft()), timing)
                while inflight:
                    self._commit(conn, imp, job, timing.waited(inflight.popleft()), timing)
            except MemoryError:  # a chunk's rows need more than an import process may have
                raise ApplicationError(OUT_OF_MEMORY, type="file_too_large", non_retryable=True) from None
            except BrokenProcessPool:
                over_limit = self._watchdog is not None and self._watchdog.tripped.is_set()
                self._discard_pool()
                if over_limit:  # the watchdog ended a process past its memory: the same file does it again
                    raise ApplicationError(OUT_OF_MEMORY, type="file_too_large", non_retryable=True) from None
                raise  # retried, with a new pool
            finally:
                for future in inflight:
                    future.cancel()
            log.info("import slice", import_id=inp.import_id, chunks=submitted, **timing.seconds())
            # A synchronous commit flushes the WAL, and with it every chunk committed before it.
            return _result(conn, inp.import_id, done=submitted < self.settings.import_slice_chunks)

    def _convert(self, source: Path, data: Path) -> None:
        """The xlsx to CSV, in a pool process under its memory limit; a file it cannot read fails
        the import at once (the same file fails the same way on every attempt)."""
        try:
            done = self._pool().submit(convert_xlsx, str(source), str(data), XlsxLimits.of(self.settings)).result()
        except (MemoryError, BrokenProcessPool):  # the limit was hit outside the reader, or it killed the process
            self._discard_pool()
            remove_quietly(data.with_suffix(".partial"))
            raise ApplicationError(OUT_OF_MEMORY, type="file_too_large", non_retryable=True) from None
        if done.code is not None:
            raise ApplicationError(done.message or done.code, type=done.code, non_retryable=True)

    def _commit(
        self, conn: psycopg.Connection, imp: dict[str, Any], job: ChunkJob, chunk: CheckedChunk, timing: _Timing
    ) -> None:
        start = time.perf_counter()
        _commit_with_retry(conn, imp, job, chunk)
        timing.committing += time.perf_counter() - start
        activity.heartbeat(imp["next_row"])

    def _pool(self) -> Executor:
        if self._executor is None:
            if self.settings.import_processes > 0:
                context = multiprocessing.get_context("spawn")  # never fork a process with threads
                # each process's column engine gets its share of the cores, read when it starts
                os.environ.setdefault(
                    "POLARS_MAX_THREADS", str(max(1, (os.cpu_count() or 1) // self.settings.import_processes))
                )
                pool = ProcessPoolExecutor(
                    self.settings.import_processes,
                    mp_context=context,
                    initializer=start_import_process,
                    initargs=(self.settings.import_process_memory_mb,),
                )
                self._executor = pool
                self._watchdog = MemoryWatchdog(
                    lambda: list(getattr(pool, "_processes", None) or ()), self.settings.import_process_memory_mb
                )
            else:
                self._executor = ThreadPoolExecutor(1)
        return self._executor

    def warm_up(self) -> None:
        """Start the pool's processes now rather than on the first import."""
        pool = self._pool()
        for future in [pool.submit(warm_up) for _ in range(max(self.settings.import_processes, 1))]:
            future.result()

    def _discard_pool(self) -> None:
        """Forget a broken pool (the next call makes a new one)."""
        broken, self._executor = self._executor, None
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None

    @activity.defn(name="finish_import")
    def finish_import(self, inp: FinishInput) -> None:
        with self.db.session() as session:
            imp = session.get(MemberImport, inp.import_id)
            if imp is None or not end_import(session, imp, inp.failure):
                return
            outcome = {"status": imp.status.value, "accepted": imp.accepted, "rejected": imp.rejected}
            session.commit()
        log.info("member import finished", import_id=inp.import_id, **outcome)


class _Timing:
    """Where a slice's time went: waiting for the import processes' checks, committing chunks."""

    def __init__(self) -> None:
        self.waiting = 0.0
        self.committing = 0.0
        self.started = time.perf_counter()

    def waited(self, future: Future[CheckedChunk]) -> CheckedChunk:
        start = time.perf_counter()
        chunk = future.result()
        self.waiting += time.perf_counter() - start
        return chunk

    def seconds(self) -> dict[str, float]:
        total = time.perf_counter() - self.started
        return {"waiting_for_checks_s": round(self.waiting, 3), "committing_s": round(self.committing, 3),
                "slice_s": round(total, 3)}  # fmt: skip


def _load(conn: psycopg.Connection, import_id: int) -> dict[str, Any]:
    cur = conn.execute(
        """SELECT i.id, i.org_id, o.district_code, i.data_path, i.encoding, i.delimiter, i.header_row,
                  i.positions, i.next_row, i.next_offset, i.status
           FROM member_imports i JOIN organisations o ON o.id = i.org_id WHERE i.id = %s""",
        (import_id,),
    )
    row = cur.fetchone()
    conn.commit()
    if row is None or row[3] is None:
        raise ApplicationError(f"导入 {import_id} 尚未准备好", non_retryable=True)
    keys = (
        "id",
        "org_id",
        "district_code",
        "data_path",
        "encoding",
        "delimiter",
        "header_row",
        "positions",
        "next_row",
        "next_offset",
        "status",
    )
    return dict(zip(keys, row, strict=True))


def _result(conn: psycopg.Connection, import_id: int, *, done: bool) -> SliceResult:
    """The slice's counts, read in a synchronously committed write: once it returns, every chunk
    committed before is on disk too."""
    row = conn.execute(
        "UPDATE member_imports SET next_row = next_row WHERE id = %s RETURNING next_row, accepted, existing, rejected",
        (import_id,),
    ).fetchone()
    conn.commit()
    assert row is not None
    return SliceResult(done=done, processed_rows=row[0], accepted=row[1], existing=row[2], rejected=row[3])


def _commit_with_retry(conn: psycopg.Connection, imp: dict[str, Any], job: ChunkJob, chunk: CheckedChunk) -> None:
    """Commit one chunk; a unique violation (a concurrent import took a phone or an ID) rolls
    back and re-checks, so the later import reports the row instead of failing."""
    for attempt in range(3):
        try:
            with conn.transaction():
                # Durable at the slice's end (see import_slice): a crash loses whole chunks,
                # checkpoint included, so they are simply done again.
                conn.execute("SET LOCAL synchronous_commit TO OFF")
                _commit_chunk(conn, imp, job, chunk)
            imp["next_row"] += chunk.spec.count
            imp["next_offset"] = chunk.spec.end
            return
        except psycopg.errors.UniqueViolation:
            if attempt == 2:
                raise


def _commit_chunk(conn: psycopg.Connection, imp: dict[str, Any], job: ChunkJob, chunk: CheckedChunk) -> None:
    """The chunk's new members, rejected rows and checkpoint."""
    inserted, existing, conflicts = _insert_members(conn, imp, chunk)
    problems = chunk.problems + conflicts
    if problems:
        raw = dict(chunk.raw)
        if conflicts:
            records = read_records(job, chunk.spec)
            for row_no, _ in conflicts:
                raw[row_no] = records[row_no - chunk.spec.first_row]
        _write_problems(conn, imp["id"], problems, raw)
    rejected_rows = len({row_no for row_no, _ in problems})
    conn.execute(
        """UPDATE member_imports SET next_row = next_row + %s, next_offset = %s, accepted = accepted + %s,
                  existing = existing + %s, rejected = rejected + %s WHERE id = %s""",
        (chunk.spec.count, chunk.spec.end, inserted, existing, rejected_rows, imp["id"]),
    )


def _insert_members(
    conn: psycopg.Connection, imp: dict[str, Any], chunk: CheckedChunk
) -> tuple[int, int, list[tuple[int, Problem]]]:
    """(inserted, already members, conflicts). Most chunks hold only people the registry does not
    know: their rows are copied at once, in a savepoint, and the unique keys say whether any was
    known. Only when one was (a second import of a file, a repeat, a phone in use) is the chunk
    rolled back to the savepoint and looked up in the registry row by row."""
    try:
        with conn.transaction():
            _copy_members(conn, imp["district_code"], chunk.lines())
        return len(chunk.row_nos), 0, []
    except psycopg.errors.UniqueViolation:
        pass
    to_insert, existing, conflicts = _resolve_conflicts(conn, imp["id"], imp["org_id"], chunk.rows())
    _copy_members(conn, imp["district_code"], [row[3] for row in to_insert])
    return len(to_insert), existing, conflicts


def _copy_members(conn: psycopg.Connection, district: str, lines: list[bytes]) -> None:
    """COPY the rows into the registry with the district's next member numbers, in file order."""
    if not lines:
        return
    first = _allocate_numbers(conn, district, len(lines))
    numbers = [f"{district}{seq:07d}\n".encode() for seq in range(first, first + len(lines))]
    with conn.cursor().copy(f"COPY members ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        copy.write(b"".join(map(operator.add, lines, numbers)))


def _allocate_numbers(conn: psycopg.Connection, district: str, n: int) -> int:
    """Reserve n member-number sequences for a district; returns the first."""
    row = conn.execute(
        """INSERT INTO member_number_counters (district_code, next_value) VALUES (%s, %s)
           ON CONFLICT (district_code) DO UPDATE SET next_value = member_number_counters.next_value + %s
           RETURNING next_value""",
        (district, n + 1, n),
    ).fetchone()
    assert row is not None
    first = int(row[0]) - n
    if first + n - 1 > MAX_SEQUENCE:
        raise ApplicationError(f"区县{district}的会员编号已用尽", type="member_numbers_exhausted", non_retryable=True)
    return first


def _write_problems(
    conn: psycopg.Connection, import_id: int, problems: list[tuple[int, Problem]], raw: dict[int, list[str]]
) -> None:
    seen: set[int] = set()
    with conn.cursor().copy(
        'COPY import_row_errors (import_id, "row", "column", code, message, raw) FROM STDIN'
    ) as copy:
        for row_no, p in problems:
            cells = None
            if row_no not in seen:
                seen.add(row_no)
                cells = Json({"cells": raw.get(row_no, [])})
            copy.write_row((import_id, row_no, p.column, p.code, p.message, cells))


_ID = BY_KEY["id_number"].header
_PHONE = BY_KEY["phone"].header


Checked = tuple[int, str, str, bytes]  # (row, id number, phone, COPY line)


def _resolve_conflicts(
    conn: psycopg.Connection, import_id: int, org_id: int, rows: list[Checked]
) -> tuple[list[Checked], int, list[tuple[int, Problem]]]:
    """Split valid rows into new members, members already registered, and conflicts.

    Members are keyed by ID number: the same person in the same union again is "existing"
    (importing a file twice adds nothing); in another union, or a phone someone else uses,
    or a repeat inside the file (earlier chunks are already in the registry) is a problem.
    """
    if not rows:
        return [], 0, []
    ids = [row[1] for row in rows]
    phones = [row[2] for row in rows]
    found = conn.execute(
        """SELECT id_number, phone, org_id, source_import_id, source_row FROM members WHERE id_number = ANY(%s)
           UNION ALL
           SELECT id_number, phone, org_id, source_import_id, source_row FROM members WHERE phone = ANY(%s)""",
        (ids, phones),
    ).fetchall()
    by_id = {r[0]: r for r in found}
    by_phone = {r[1]: r for r in found}
    seen_ids: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    to_insert: list[Checked] = []
    problems: list[tuple[int, Problem]] = []
    existing = 0
    for row in rows:
        row_no, number, phone = row[0], row[1], row[2]
        hit = by_id.get(number)
        if number in seen_ids or (hit and hit[3] == import_id and hit[4] != row_no):
            first = seen_ids.get(number) or (hit[4] if hit else None)
            problems.append((row_no, Problem(_ID, "duplicate_in_file", f"证件号码与第{first}行重复")))
            continue
        if hit is not None:
            if hit[2] == org_id:
                existing += 1
            else:
                union = _org_name(conn, hit[2])
                problems.append((row_no, Problem(_ID, "member_of_other_union", f"该证件号码已是“{union}”的会员")))
            continue
        owner = by_phone.get(phone)
        if phone in seen_phones or (owner and owner[3] == import_id):
            first = seen_phones.get(phone) or (owner[4] if owner else None)
            problems.append((row_no, Problem(_PHONE, "duplicate_in_file", f"手机号码与第{first}行重复")))
            continue
        if owner is not None:
            problems.append((row_no, Problem(_PHONE, "phone_taken", "该手机号码已被其他会员使用")))
            continue
        seen_ids[number] = row_no
        seen_phones[phone] = row_no
        to_insert.append(row)
    return to_insert, existing, problems


def _org_name(conn: psycopg.Connection, org_id: int) -> str:
    row = conn.execute("SELECT name FROM organisations WHERE id = %s", (org_id,)).fetchone()
    return str(row[0]) if row else str(org_id)
