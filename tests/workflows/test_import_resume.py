"""A worker killed in the middle of an import: another worker resumes it without duplicates."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from temporalio.client import Client

from core.db import Database
from core.settings import Settings
from documents.fake_members import member_rows, write_csv
from models.member_import import MemberImport
from workflows.member_import import ImportInput, ImportSummary, MemberImportWorkflow, import_workflow_id

ROWS = 6_000


def start_worker(settings: Settings, task_queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "UNIONCARD_DATABASE_URL": settings.database_url or "",
        "UNIONCARD_TEMPORAL_ADDRESS": settings.temporal_address,
        "UNIONCARD_TASK_QUEUE": task_queue,
        "UNIONCARD_IMPORT_CHUNK_ROWS": "20",
        "UNIONCARD_IMPORT_SLICE_CHUNKS": "100000",
        "UNIONCARD_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], env=env, start_new_session=True)


def progress(db: Database, import_id: int) -> int:
    with db.session() as session:
        imp = session.get(MemberImport, import_id)
        assert imp is not None
        return imp.next_row


async def test_killed_worker_resumes_without_duplicates(
    db: Database, settings: Settings, temporal_client: Client, tmp_path: Path, tokens: dict[str, str]
) -> None:
    path = write_csv(tmp_path / "big.csv", member_rows(ROWS, seed=41, phone_base=15_000_000_000))
    with db.session() as session:
        imp = MemberImport(
            org_id=_org_id(db, "104-0001"),
            created_by=1,
            filename="big.csv",
            file_format="csv",
            stored_path=str(path),
            sha256="-",
            workflow_id="",
        )
        session.add(imp)
        session.flush()
        imp.workflow_id = import_workflow_id(imp.id or 0)
        session.commit()
        import_id = imp.id or 0
    queue = f"resume-{uuid.uuid4().hex[:6]}"
    first = start_worker(settings, queue)
    second = None
    try:
        handle = await temporal_client.start_workflow(
            MemberImportWorkflow.run, ImportInput(import_id, heartbeat_seconds=2), id=imp.workflow_id, task_queue=queue
        )
        deadline = time.monotonic() + 60
        while progress(db, import_id) < 500:
            assert time.monotonic() < deadline, "the first worker never made progress"
            await asyncio.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = progress(db, import_id)
        assert 0 < at_kill < ROWS, at_kill
        second = start_worker(settings, queue)
        result: ImportSummary = await asyncio.wait_for(handle.result(), 120)
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
    assert result.status == "completed"
    assert (result.processed_rows, result.accepted, result.rejected) == (ROWS, ROWS, 0)
    with db.connect() as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT id_number), count(DISTINCT member_no), count(DISTINCT source_row) "
            "FROM members WHERE source_import_id = %s",
            (import_id,),
        ).fetchone()
    assert row == (ROWS, ROWS, ROWS, ROWS)
    history = [e async for e in handle.fetch_history_events()]
    assert len(history) < 60  # counts in the history, never rows


def _org_id(db: Database, code: str) -> int:
    with db.connect() as conn:
        row = conn.execute("SELECT id FROM organisations WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0])
