"""Admins at the workbench: stuck workflows found with the API's filters, a workflow's page
(pending activities with attempts and last failure, timers, audit history) and its repairs, each
with a mandatory reason."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep
from core.errors import AppError
from models.org import OrgCreate
from models.states import LABELS, GrassrootsType, OrgLevel
from services import admin_repairs, orgs, programme_years
from services.admin_repairs import RepairBody
from web.deps import PREFIX, PageSession
from web.render import decided, page, refusal

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)
KINDS = {
    "card_batch": "办卡批次",
    "enrollment": "集中参保",
    "district_filing": "区局汇总",
    "claim": "保障给付",
    "registration": "年度注册",
    "card_loss": "挂失补卡",
    "member_import": "会员导入",
}
ACTIONS = {
    "retry": "立即重试失败的步骤",
    "pause": "暂停步骤",
    "unpause": "恢复步骤",
    "resend": "重新发送给银行（办卡批次）",
    "cancel": "取消流程",
    "terminate": "终止流程",
    "reset": "重置到最后成功的步骤",
}


@router.get("/workflows", response_class=HTMLResponse)
async def workflows(
    request: Request,
    session: SessionDep,
    current: PageSession,
    temporal: TemporalDep,
    type: str | None = Query(None, max_length=40),
    org: str | None = Query(None, max_length=32),
    stale_for: str | None = Query(None, max_length=10),
    failing: bool = False,
    overdue: bool = False,
) -> HTMLResponse:
    error = None
    rows: list[dict[str, Any]] = []
    try:
        found = await admin_repairs.stuck_workflows(
            session=session,
            actor=current.actor,
            temporal=temporal,
            type=type or None,
            status=None,
            org=org or None,
            stale_for=stale_for or None,
            failing=failing,
            overdue=overdue,
            include_closed=False,
            size=100,
            page_token=None,
        )
        rows = found.items
    except AppError as exc:
        if exc.code == "role_not_allowed":
            raise
        error = refusal(exc)
    return page(
        request,
        "admin_workflows.html",
        current,
        rows=rows,
        kinds=KINDS,
        type=type,
        org=org,
        stale_for=stale_for,
        failing=failing,
        overdue=overdue,
        error=error,
    )


async def _workflow_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    temporal: TemporalDep,
    workflow_id: str,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
) -> HTMLResponse:
    found = await admin_repairs.workflow_detail(
        session=session, actor=current.actor, temporal=temporal, workflow_id=workflow_id
    )
    return page(
        request,
        "admin_workflow.html",
        current,
        status_code=status_code,
        w=found["row"],
        detail=found,
        audit=found["audit"],
        actions=ACTIONS,
        error=error,
    )


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
async def workflow(
    request: Request, session: SessionDep, current: PageSession, temporal: TemporalDep, workflow_id: str
) -> HTMLResponse:
    return await _workflow_page(request, session, current, temporal, workflow_id)


@router.post("/workflows/{workflow_id}/repairs")
async def repair(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    workflow_id: str,
    action: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """A repair of the workflow with its mandatory reason (audited by the service)."""

    async def act() -> object:
        data = RepairBody.model_validate({"action": action, "reason": reason.strip()})
        return await admin_repairs.repair_workflow(
            session=session, actor=current.actor, temporal=temporal, settings=settings, workflow_id=workflow_id,
            data=data,
        )  # fmt: skip

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _workflow_page(request, session, current, temporal, workflow_id, status, dict(error))

    return await decided(
        act,
        again=again,
        then=f"{PREFIX}/admin/workflows/{workflow_id}",
        done=f"已执行：{ACTIONS.get(action, action)}",
        invalid={"code": "reason_required", "message": "请填写修复原因（至少 2 个字）"},
    )


def _orgs_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    status_code: int = 200,
    error: dict[str, Any] | None = None,
) -> HTMLResponse:
    org = orgs.read_org(session=session, actor=current.actor, code=code)
    below = orgs.children(session=session, actor=current.actor, code=code)
    years = programme_years.list_programme_years(session=session, actor=current.actor)
    return page(
        request,
        "orgs.html",
        current,
        status_code=status_code,
        org=org,
        children=below,
        error=error,
        levels=list(LABELS[OrgLevel].items()),
        types=list(LABELS[GrassrootsType].items()),
        years=sorted(years, key=lambda y: -y.year)[:10],
    )


@router.get("/orgs/{code}", response_class=HTMLResponse)
def orgs_page(request: Request, session: SessionDep, current: PageSession, code: str) -> HTMLResponse:
    """An organisation, the ones below it with their accounts, a form for a new one, the programme years."""
    return _orgs_page(request, session, current, code)


@router.post("/orgs")
async def new_org(
    request: Request,
    session: SessionDep,
    current: PageSession,
    parent_code: Annotated[str, Form(max_length=32)],
    code: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=100)],
    level: Annotated[str, Form(max_length=20)],
    grassroots_type: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """A new organisation below ``parent_code`` (admins; the service checks the tree's rules)."""
    given = {
        "code": code.strip(), "name": name.strip(), "level": level, "parent_code": parent_code,
        "grassroots_type": grassroots_type or None,
    }  # fmt: skip

    async def act() -> object:
        data = OrgCreate.model_validate(given)
        return await run_in_threadpool(orgs.add_org, session=session, actor=current.actor, data=data)

    def again(status: int, error: Mapping[str, object]) -> HTMLResponse | Awaitable[HTMLResponse]:
        if error.get("code") == "role_not_allowed":  # not an admin: the organisations page is not theirs
            return page(request, "error.html", current, status_code=status, error=error)
        return run_in_threadpool(_orgs_page, request, session, current, parent_code, status, dict(error))

    return await decided(
        act,
        again=again,
        then=f"{PREFIX}/admin/orgs/{parent_code}",
        done=f"已新建 {code}",
        invalid={"code": "invalid_request", "message": "请填写代码和名称，并选择层级"},
    )
