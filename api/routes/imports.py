"""Member imports: upload, progress, rejected rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import IO

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from api.deps import CurrentActor, DatabaseDep, SessionDep, SettingsDep, TemporalDep
from documents.workbooks import XLSX
from models.inputs import INT4_MAX
from models.member_import import ImportPublic
from services import imports

router = APIRouter(tags=["imports"])


async def _file_chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(1 << 20):
        yield chunk


@router.post("/orgs/{code}/members/imports", status_code=status.HTTP_202_ACCEPTED)
async def create_import(
    code: str,
    request: Request,
    session: SessionDep,
    db: DatabaseDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
    file: UploadFile | None = None,
    filename: str | None = Query(None, description="the file's name, when the body is the file itself"),
    wait: bool = Query(False, description="wait (up to a minute) for a small file to finish"),
) -> ImportPublic:
    """Upload an .xlsx or .csv of members, as the form field ``file`` or as the request body itself
    (``Content-Type: text/csv`` or the xlsx type); a durable workflow imports it in chunks."""
    upload: AsyncIterator[bytes] | None = None  # a form without its file: refused once the caller may import
    if file is not None:
        upload, filename = _file_chunks(file), file.filename
    elif not request.headers.get("content-type", "").startswith(("multipart/", "application/x-www-form-urlencoded")):
        upload = request.stream()
    return await imports.create_import(
        session=session,
        db=db,
        actor=actor,
        temporal=temporal,
        settings=settings,
        code=code,
        upload=upload,
        filename=filename,
        wait=wait,
    )


@router.get("/imports/{import_id}")
async def read_import(
    import_id: int,
    db: DatabaseDep,
    actor: CurrentActor,
    settings: SettingsDep,
    wait: bool = False,
    errors_offset: int = Query(0, ge=0, le=INT4_MAX),
    errors_limit: int = Query(200, ge=0, le=5000),
) -> ImportPublic:
    """Progress, counts and rejected rows ({row, column, code, message})."""
    return await imports.read_import(
        db=db,
        actor=actor,
        settings=settings,
        import_id=import_id,
        wait=wait,
        errors_offset=errors_offset,
        errors_limit=errors_limit,
    )


@router.get("/imports/{import_id}/errors.xlsx", response_class=Response)
def rejected_rows(import_id: int, session: SessionDep, actor: CurrentActor) -> Response:
    """The rejected rows as uploaded with an error column, to fix and upload again."""
    out = imports.rejected_rows(session=session, actor=actor, import_id=import_id)
    return StreamingResponse(
        _file_chunks_of(out),
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename=import-{import_id}-errors.xlsx",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _file_chunks_of(f: IO[bytes]) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 20):
            yield chunk
