"""An enrollment at the workbench: its roster counts, fee per type and split, the notice, the
clerk's confirmations and submission, the reviewers' decisions and the district's payment record,
its state machine and history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from core.programme import get_config
from models.inputs import INT4_MAX
from models.states import RosterCategory
from services import enrollments
from services.enrollments import EnrollmentReview, MembersChoice, PaymentBody, SubmitBody
from web.deps import PREFIX, PageSession
from web.render import decided, page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
EnrollmentId = Annotated[int, Path(ge=1, le=INT4_MAX)]


async def _page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    enrollment_id: int,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    view = await enrollments.read_enrollment(
        session=session, actor=current.actor, source=source, enrollment_id=enrollment_id
    )
    awaiting = (
        enrollments.roster(
            session=session,
            actor=current.actor,
            enrollment_id=enrollment_id,
            category=RosterCategory.AWAITING,
            page=1,
            size=20,
        )
        if view.awaiting_confirmation
        else []
    )
    choices = get_config(session, view.year).protection_types if "submit" in view.actions else []
    return page(
        request,
        "enrollment.html",
        current,
        status_code=status_code,
        e=view,
        awaiting=awaiting,
        protection_choices=choices,
        error=error,
    )


@router.get("/enrollments/{enrollment_id}", response_class=HTMLResponse)
async def enrollment_page(
    request: Request, session: SessionDep, current: PageSession, source: TemporalSourceDep, enrollment_id: EnrollmentId
) -> HTMLResponse:
    return await _page(request, session, current, source, enrollment_id)


async def _act(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    enrollment_id: int,
    act: Callable[[], Awaitable[Any]],
    done: str,
) -> Response:
    """Run a decision; its refusal is shown on the enrollment's page, its success as a notice."""

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _page(request, session, current, source, enrollment_id, status, error)

    invalid = {"code": "invalid_request", "message": "填写的内容不正确：退回须填写原因，金额须为数字"}
    return await decided(act, again=again, then=f"{PREFIX}/enrollments/{enrollment_id}", done=done, invalid=invalid)


@router.post("/enrollments/{enrollment_id}/confirm")
async def confirm(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    enrollment_id: EnrollmentId,
    all: Annotated[str, Form(max_length=5)] = "true",
    member_nos: Annotated[list[str] | None, Form(max_length=1000)] = None,
) -> Response:
    """Confirm the ticked members awaiting confirmation, or all of them."""
    everyone = all == "true"

    async def act() -> Any:
        data = MembersChoice(all=True) if everyone else MembersChoice(member_nos=member_nos or [])
        return await enrollments.confirm_members(
            session=session,
            actor=current.actor,
            temporal=temporal,
            settings=settings,
            enrollment_id=enrollment_id,
            data=data,
        )

    done = "待确认会员已全部确认参保" if everyone else f"已确认 {len(member_nos or [])} 名会员参保"
    return await _act(request, session, current, source, enrollment_id, act, done)


@router.post("/enrollments/{enrollment_id}/submit")
async def submit(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    enrollment_id: EnrollmentId,
    step: Annotated[int, Form(ge=0, le=INT4_MAX)],
    protection_type: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    async def act() -> Any:
        data = SubmitBody(protection_type=protection_type or None, step=step)
        return await enrollments.submit_enrollment(
            session=session,
            actor=current.actor,
            temporal=temporal,
            settings=settings,
            enrollment_id=enrollment_id,
            data=data,
        )

    return await _act(request, session, current, source, enrollment_id, act, "已提交集中参保")


@router.post("/enrollments/{enrollment_id}/review")
async def review(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    enrollment_id: EnrollmentId,
    step: Annotated[int, Form(ge=0, le=INT4_MAX)],
    decision: Annotated[str, Form(max_length=7)],
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    async def act() -> Any:
        data = EnrollmentReview(approve=decision == "approve", reason=reason.strip() or None, step=step)
        return await enrollments.review_enrollment(
            session=session,
            actor=current.actor,
            temporal=temporal,
            settings=settings,
            enrollment_id=enrollment_id,
            data=data,
        )

    done = "已审核通过" if decision == "approve" else "已退回"
    return await _act(request, session, current, source, enrollment_id, act, done)


@router.post("/enrollments/{enrollment_id}/payment")
async def payment(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    enrollment_id: EnrollmentId,
    step: Annotated[int, Form(ge=0, le=INT4_MAX)],
    amount: Annotated[str, Form(max_length=20)],
    reference: Annotated[str, Form(max_length=80)],
) -> Response:
    async def act() -> Any:
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal(-1)  # refused by the body's own rule, with the same message
        data = PaymentBody(amount=value, reference=reference.strip(), step=step)
        return await enrollments.record_payment(
            session=session,
            actor=current.actor,
            temporal=temporal,
            settings=settings,
            enrollment_id=enrollment_id,
            data=data,
        )

    return await _act(request, session, current, source, enrollment_id, act, "缴费已登记")
