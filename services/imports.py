"""Member imports: storing an upload (streamed, limited, private), its preflight, the import's row
and workflow, progress and rejected rows, and the workbook of rejected rows to fix."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from core import search_attributes as search
from core.audit import audit_action
from core.auth import Actor, load_in_scope, require
from core.db import Database
from core.errors import AppError, Invalid, NotFound, Unavailable
from core.logging import get_logger
from core.private_files import private_dir, private_open, remove_quietly
from core.settings import Settings
from documents.tabular import FileLayout, preflight
from documents.workbooks import write_errors_xlsx
from documents.xlsx_scan import XlsxLimits
from models.member_import import ImportPublic, ImportRowError, MemberImport, RowErrorPublic
from models.org import Organisation
from models.states import ImportStatus, Role
from services.orgs import get_org, require_card_work
from services.workflow_calls import start_workflow
from workflows.member_import import ImportInput, MemberImportWorkflow, import_workflow_id

log = get_logger(__name__)
_FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED)


async def _store_upload(chunks: AsyncIterator[bytes], settings: Settings) -> tuple[Path, str, int]:
    """Stream an upload to the upload folder (never whole in memory, 0600 in a 0700 folder); refuse
    it past the size limit. Whatever stops the upload (the limit, a client gone) leaves no file."""
    path = private_dir(settings.upload_dir) / f"{uuid.uuid4().hex}.upload"
    digest = hashlib.sha256()
    size = 0
    try:
        with private_open(path) as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > settings.import_max_bytes:
                    raise AppError(
                        "file_too_large", f"文件超过 {settings.import_max_bytes // (1 << 20)} MB", status=413
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size


def _checked_layout(path: Path, filename: str | None, settings: Settings) -> FileLayout:
    """The preflight of a stored upload; a refused file is deleted at once."""
    try:
        return preflight(path, filename=filename, limits=XlsxLimits.of(settings))
    except AppError:
        path.unlink(missing_ok=True)
        raise
    except Exception as exc:  # a reader's surprise is the file's fault: a 422, never a 500
        path.unlink(missing_ok=True)
        log.warning("upload unreadable", error=type(exc).__name__)
        raise Invalid("file_malformed", "文件无法读取，请在Excel中重新另存为 .xlsx 或 CSV 后上传") from exc


async def create_import(
    *, session: Session, db: Database, actor: Actor, temporal: Client, settings: Settings, code: str,
    upload: AsyncIterator[bytes] | None, filename: str | None, wait: bool,
) -> ImportPublic:  # fmt: skip
    """A union's clerk uploads members (``upload``: the file's bytes, read only once the clerk may;
    None for a form without its file);
    a durable workflow imports it in chunks; ``wait``: up to a minute for a small file to finish."""
    org = await run_in_threadpool(_importing_org, session, code, actor)
    if upload is None:
        raise Invalid("file_required", "请上传会员文件（表单字段 file）")
    path, sha, size = await _store_upload(upload, settings)
    layout = await asyncio.to_thread(_checked_layout, path, filename, settings)
    try:
        import_id, workflow_id = await run_in_threadpool(
            _record_import, session, org, actor, (filename, path, sha, size), layout
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        await start_workflow(
            session,
            temporal,
            MemberImportWorkflow.run,
            ImportInput(import_id, settings.import_heartbeat_seconds),
            id=workflow_id,
            task_queue=settings.task_queue,
            search_attributes=search.at_start("member_import", "running", org.code, org.path, org.district_code or ""),
        )
    except Exception as exc:
        await run_in_threadpool(_not_started, session, import_id)
        raise Unavailable("temporal_unavailable", "工作流服务暂时不可用，导入未开始，请稍后重新上传") from exc
    if wait:
        await _wait_finished(db, import_id, settings.import_wait_seconds)
    return await run_in_threadpool(_view, db, import_id, actor)


# The database work of the route above runs in worker threads: the event loop never waits for it.
def _importing_org(session: Session, code: str, actor: Actor) -> Organisation:
    org = get_org(session, code)
    require(actor, org, Role.CLERK)
    require_card_work(org)
    session.expunge(org)  # kept as loaded: read on the event loop later, with no query
    session.commit()  # no connection held while the file uploads
    return org


def _record_import(
    session: Session, org: Organisation, actor: Actor, upload: tuple[str | None, Path, str, int], layout: Any
) -> tuple[int, str]:
    """The import's row and audit entry: (its id, its workflow's id)."""
    filename, path, sha, size = upload
    imp = MemberImport(
        org_id=org.id or 0,
        created_by=actor.user_id,
        filename=(filename or "upload")[:255],
        file_format=layout.file_format,
        encoding=layout.encoding,
        stored_path=str(path.resolve()),
        sha256=sha,
        size_bytes=size,
        workflow_id="",
        headers=layout.headers,
        # a CSV's layout as the preflight found it: the import reads it from here, not again
        header_row=layout.header_row,
        positions=layout.positions,
        delimiter=layout.delimiter,
        next_offset=layout.data_offset,
    )
    session.add(imp)
    session.flush()
    imp.workflow_id = import_workflow_id(imp.id or 0)
    audit_action(
        session,
        actor,
        "member_import.started",
        ("member_import", imp.id or 0),
        f"上传{layout.file_format}文件导入会员（{size}字节）",
        org_id=org.id,
        states=(None, ImportStatus.QUEUED.value),
    )
    made = (imp.id or 0, imp.workflow_id)
    session.commit()
    return made


def _not_started(session: Session, import_id: int) -> None:
    imp = session.get(MemberImport, import_id)
    if imp is not None:
        imp.status, imp.failure = ImportStatus.FAILED, "工作流服务不可用，导入未开始"
        remove_quietly(imp.stored_path)
        session.add(imp)
        session.commit()


async def _wait_finished(db: Any, import_id: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.session() as s:
            imp = s.get(MemberImport, import_id)
            if imp is None or imp.status in _FINISHED:
                return
        await asyncio.sleep(0.1)


def _load(session: Session, import_id: int, actor: Actor) -> tuple[MemberImport, Organisation]:
    missing = NotFound("import_not_found", f"导入 {import_id} 不存在")
    return load_in_scope(session, MemberImport, import_id, actor, missing)


def _view(db: Any, import_id: int, actor: Actor, offset: int = 0, limit: int = 200) -> ImportPublic:
    with db.session() as session:
        imp, org = _load(session, import_id, actor)
        errors = session.exec(
            select(ImportRowError)
            .where(ImportRowError.import_id == import_id)
            .order_by(col(ImportRowError.row), col(ImportRowError.id))
            .offset(offset)
            .limit(limit)
        ).all()
        total = session.exec(select(func.count()).where(ImportRowError.import_id == import_id)).one()
        return ImportPublic(
            id=imp.id or 0,
            org_code=org.code,
            filename=imp.filename,
            file_format=imp.file_format,
            status=imp.status,
            processed_rows=imp.next_row,
            progress=_progress(imp),
            total_rows=imp.total_rows,
            accepted=imp.accepted,
            existing=imp.existing,
            rejected_rows=imp.rejected,
            errors_total=total,
            failure=imp.failure,
            created_at=imp.created_at,
            finished_at=imp.finished_at,
            errors=[RowErrorPublic(row=e.row, column=e.column, code=e.code, message=e.message) for e in errors],
        )


def _progress(imp: MemberImport) -> float:
    if imp.status is ImportStatus.COMPLETED:
        return 1.0
    return round(min(imp.next_offset / imp.data_bytes, 1.0), 4) if imp.data_bytes else 0.0


async def read_import(
    *, db: Database, actor: Actor, settings: Settings, import_id: int, wait: bool, errors_offset: int,
    errors_limit: int,
) -> ImportPublic:  # fmt: skip
    """Progress, counts and rejected rows ({row, column, code, message})."""
    view = _view(db, import_id, actor, errors_offset, errors_limit)
    if wait and view.status not in _FINISHED:
        await _wait_finished(db, import_id, settings.import_wait_seconds)
        view = _view(db, import_id, actor, errors_offset, errors_limit)
    return view


def rejected_rows(*, session: Session, actor: Actor, import_id: int) -> IO[bytes]:
    """The rejected rows as uploaded with an error column, to fix and upload again: a file with no
    name (it holds ID numbers, and the download is audited), to stream and close."""
    imp, org = _load(session, import_id, actor)
    audit_action(  # like ?reveal=true: the rows carry full ID numbers and phones
        session, actor, "member_import.errors_downloaded", ("member_import", import_id),
        f"下载错误行（{imp.rejected}行，含完整证件号码和手机号码）", org_id=org.id,
    )  # fmt: skip
    out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the caller once streamed)
    try:
        write_errors_xlsx(out, imp.headers, _error_rows(session, import_id))
        out.seek(0)
    except BaseException:
        out.close()
        raise
    session.commit()  # no connection held while the file streams
    return out


def _error_rows(session: Session, import_id: int) -> Iterator[tuple[int, list[Any], list[str]]]:
    """Each rejected row once, its cells and its messages, read from the database in batches."""
    found = session.exec(
        select(ImportRowError.row, ImportRowError.column, ImportRowError.message, ImportRowError.raw)
        .where(ImportRowError.import_id == import_id)
        .order_by(col(ImportRowError.row), col(ImportRowError.id))
        .execution_options(yield_per=2000)
    )
    current: tuple[int, list[Any], list[str]] | None = None
    for row_no, column, message, raw in found:
        if current is None or current[0] != row_no:
            if current is not None:
                yield current
            current = (row_no, [], [])
        if raw and not current[1]:
            current[1].extend(raw.get("cells", []))
        current[2].append(f"{column}：{message}" if column else message)
    if current is not None:
        yield current
