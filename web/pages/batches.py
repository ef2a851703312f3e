"""Card batches at the workbench: a union's batches, opening one (the pending list), adding the
members without a card (all, or the ones ticked), system validation, removing the failed,
submitting to the bank (the page follows the bank's answers), the revocation its district decides."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from models.inputs import INT4_MAX
from models.states import LABELS, CardChannel, CardStatus
from services import card_batches, registrations
from services import members as members_service
from services.card_batches import BatchCreate, MembersEdit, RevocationDecision, RevocationRequest
from web.deps import PREFIX, PageSession
from web.render import decided, page, page_number

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_SIZE = 100  # rows of a list page
Id = Annotated[int, Path(ge=1, le=INT4_MAX)]
BUTTONS = (
    ("add_all", "加入全部未办卡会员"),
    ("validate", "系统校验"),
    ("remove_failed", "移除未通过的会员"),
    ("submit", "提交银行"),
    ("cancel", "取消批次"),
)
CHECKS = {"unchecked": "未校验", "passed": "通过", "failed": "未通过"}
OUTCOMES = {"issued": "已制卡", "rejected": "银行退回"}
DONE = {
    "add_all": "已加入全部未办卡会员",
    "validate": "系统校验完成",
    "remove_failed": "已移除未通过的会员",
    "submit": "已提交银行",
    "cancel": "批次已取消",
}


@router.get("/orgs/{code}/card-batches", response_class=HTMLResponse)
async def batches(
    request: Request, session: SessionDep, current: PageSession, source: TemporalSourceDep, code: str
) -> HTMLResponse:
    """A union's card batches and the form that opens one."""
    return await _batches_page(request, session, current, source, code)


async def _batches_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    code: str,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    found = await card_batches.list_batches(
        session=session,
        actor=current.actor,
        source=source,
        org_code=code,
        status=None,
        overdue=None,
        page=page_number(request),
        size=LIST_SIZE,
    )
    years = registrations.registration_years(session=session, actor=current.actor, org_code=code)
    return page(
        request,
        "batches.html",
        current,
        status_code=status_code,
        batches=found,
        code=code,
        error=error,
        channels=list(LABELS[CardChannel].items()),
        years=years[:5],
        page_no=page_number(request),
        more=len(found) == LIST_SIZE,
    )


@router.post("/orgs/{code}/card-batches")
async def open_batch(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    code: str,
    bank_branch: Annotated[str, Form(max_length=100)],
    channel: Annotated[str, Form(max_length=20)] = "normal",
) -> Response:
    """Open a batch: its pending list, where the members without a card are added."""

    async def act() -> Any:
        data = BatchCreate.model_validate({"channel": channel, "bank_branch": bank_branch.strip()})
        return await card_batches.open_batch(
            session=session, actor=current.actor, temporal=temporal, settings=settings, org_code=code, data=data
        )

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _batches_page(request, session, current, source, code, status, error)

    return await decided(
        act,
        again=again,
        then=lambda made: f"{PREFIX}/card-batches/{made.id}",
        done="已新建批次，请加入会员",
        invalid={"code": "invalid_request", "message": "请选择制卡渠道并填写开户网点（至少 2 个字）"},
    )


def _again(
    request: Request, session: SessionDep, current: PageSession, source: TemporalSourceDep, batch_id: int
) -> Any:
    """The batch's page again, with a refusal."""
    return lambda status, error: _batch_page(request, session, current, source, batch_id, status, error)


async def _batch_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    batch_id: int,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    view = await card_batches.read_batch(session=session, actor=current.actor, source=source, batch_id=batch_id)
    members = card_batches.batch_members(
        session=session, actor=current.actor, batch_id=batch_id, check=None, page=1, size=500
    )
    actions = [*view.actions, *(["add_all"] if "add_members" in view.actions else [])]
    view = view.model_copy(update={"actions": actions})
    in_batch = {m.member_no for m in members}
    without_card = []
    if "add_members" in view.actions:
        found = members_service.list_members(
            session=session,
            actor=current.actor,
            code=view.org_code,
            card_status=CardStatus.NONE,
            employment_status=None,
            q=None,
            subtree=False,
            page=1,
            size=200,
        )
        without_card = [m for m in found.items if m.member_no not in in_batch]
    return page(
        request,
        "batch.html",
        current,
        status_code=status_code,
        b=view,
        members=members,
        error=error,
        buttons=BUTTONS,
        without_card=without_card,
        checks=CHECKS,
        outcomes=OUTCOMES,
    )


@router.get("/card-batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(
    request: Request, session: SessionDep, current: PageSession, source: TemporalSourceDep, batch_id: Id
) -> HTMLResponse:
    return await _batch_page(request, session, current, source, batch_id)


@router.post("/card-batches/{batch_id}/do/{action}")
async def batch_action(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    batch_id: Id,
    action: str,
) -> Response:
    kw: dict[str, Any] = {
        "session": session,
        "actor": current.actor,
        "temporal": temporal,
        "settings": settings,
        "batch_id": batch_id,
    }
    acts: dict[str, Callable[[], Awaitable[Any]]] = {
        "add_all": lambda: card_batches.add_members(**kw, data=MembersEdit(all_without_card=True)),
        "validate": lambda: card_batches.validate(**kw),
        "remove_failed": lambda: card_batches.remove_failed(**kw),
        "submit": lambda: card_batches.submit(**kw),
        "cancel": lambda: card_batches.cancel(**kw, data=card_batches.Reason()),
    }
    if action not in acts:
        return await _batch_page(
            request, session, current, source, batch_id, 404, {"code": "unknown_action", "message": "没有这个操作"}
        )
    return await decided(
        acts[action],
        again=_again(request, session, current, source, batch_id),
        then=f"{PREFIX}/card-batches/{batch_id}",
        done=DONE[action],
        invalid={"code": "invalid_request", "message": "操作无法执行，请刷新页面后重试"},
    )


@router.post("/card-batches/{batch_id}/revocation")
async def request_revocation(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    batch_id: Id,
    applicant_name: Annotated[str, Form(max_length=60)],
    applicant_phone: Annotated[str, Form(max_length=11)],
    reason: Annotated[str, Form(max_length=300)],
) -> Response:
    async def act() -> object:
        data = RevocationRequest(
            applicant_name=applicant_name.strip(), applicant_phone=applicant_phone.strip(), reason=reason.strip()
        )
        return await card_batches.request_revocation(
            session=session, actor=current.actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
        )

    return await decided(
        act,
        again=_again(request, session, current, source, batch_id),
        then=f"{PREFIX}/card-batches/{batch_id}",
        done="已申请撤销，待区局审批",
        invalid={"code": "invalid_request", "message": "请填写申请人姓名、11 位手机号码和撤销原因"},
    )


@router.post("/card-batches/{batch_id}/revocation/decision")
async def decide_revocation(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    batch_id: Id,
    decision: Annotated[str, Form(max_length=7)],
    step: Annotated[int, Form(ge=0, le=INT4_MAX)],
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    async def act() -> object:
        data = RevocationDecision(approve=decision == "approve", reason=reason.strip(), step=step)
        return await card_batches.decide_revocation(
            session=session, actor=current.actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
        )

    done = "已同意撤销" if decision == "approve" else "已驳回撤销申请"
    return await decided(
        act,
        again=_again(request, session, current, source, batch_id),
        then=f"{PREFIX}/card-batches/{batch_id}",
        done=done,
        invalid={"code": "reason_required", "message": "请填写审批意见"},
    )


@router.post("/card-batches/{batch_id}/add-selected")
async def add_selected(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    batch_id: Id,
    member_nos: Annotated[list[str], Form(max_length=500)],
) -> Response:
    """The members ticked on the batch's page join its pending list (all or nothing)."""

    async def act() -> object:
        data = MembersEdit(member_nos=member_nos)
        return await card_batches.add_members(
            session=session, actor=current.actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
        )

    done = f"已加入 {len(member_nos)} 名会员"
    return await decided(
        act,
        again=_again(request, session, current, source, batch_id),
        then=f"{PREFIX}/card-batches/{batch_id}",
        done=done,
        invalid={"code": "invalid_request", "message": "请勾选要加入的会员"},
    )
