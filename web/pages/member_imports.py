"""Member imports at the workbench: the clerk's upload (the import runs in its workflow) and the
import's page with its live progress and the rejected rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api.deps import DatabaseDep, SessionDep, SettingsDep, TemporalDep
from models.inputs import INT4_MAX
from services import imports
from web.deps import PREFIX, PageSession
from web.render import decided, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=INT4_MAX)]


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(1 << 20):
        yield chunk


@router.post("/orgs/{code}/imports")
async def upload(
    request: Request,
    session: SessionDep,
    db: DatabaseDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    code: str,
    file: UploadFile,
) -> Response:
    """The uploaded file starts its import; the browser goes to the import's page (refused: why,
    with the way back to the members)."""

    async def act() -> Any:
        return await imports.create_import(
            session=session, db=db, actor=current.actor, temporal=temporal, settings=settings, code=code,
            upload=_chunks(file), filename=file.filename, wait=False,
        )  # fmt: skip

    def again(status: int, error: Mapping[str, object]) -> HTMLResponse:
        back = f"{PREFIX}/orgs/{code}/members"
        return page(request, "error.html", current, status_code=status, error=error, back=back)

    return await decided(
        act,
        again=again,
        then=lambda made: f"{PREFIX}/imports/{made.id}",
        done="文件已上传，正在导入",
        invalid={"code": "invalid_request", "message": "请选择要上传的文件"},
    )


@router.get("/imports/{import_id}", response_class=HTMLResponse)
async def import_page(
    request: Request, db: DatabaseDep, current: PageSession, settings: SettingsDep, import_id: Id
) -> HTMLResponse:
    view = await imports.read_import(
        db=db,
        actor=current.actor,
        settings=settings,
        import_id=import_id,
        wait=False,
        errors_offset=0,
        errors_limit=500,
    )
    return page(request, "import.html", current, imp=view, code=view.org_code)
