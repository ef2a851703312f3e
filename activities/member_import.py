"""Member import activities: prepare the stored file, commit chunks, record the outcome.

Each chunk is one transaction that inserts its members, its rejected rows and the import's
checkpoint together, so a retried or resumed activity never adds a member twice.
"""

from __future__ import annotations

import multiprocessing
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
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.import_chunks import (
    OUT_OF_MEMORY,
    CheckedChunk,
    ChunkJob,
    ChunkSpec,
    check_chunk,
    convert_xlsx,
    start_import_process,
    warm_up,
)
from activities.import_memory import MemoryWatchdog
from activities.import_outcome import end_import
from activities.member_writes import commit_with_retry
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
from workflows.member_import import FinishInput, ImportInput, SliceResult

log = get_logger(__name__)


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
        commit_with_retry(conn, imp, job, chunk)
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
