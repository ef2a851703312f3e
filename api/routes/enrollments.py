"""Group insurance enrollment (集中参保): roster, confirmation, submission, review, payment, notice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlmodel import Session, col, select

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep, temporal_source
from core.auth import Actor, require
from core.errors import Conflict, Invalid, Unavailable
from core.logging import get_logger
from core.programme import get_config
from core.settings import Settings
from documents.notices import notice_html, notice_pdf
from models.enrollment import Enrollment, MemberSelection, fee_lines
from models.inputs import ITEMS_MAX, MULTILINE, PAGE_MAX, PAYMENT_MAX, YEAR_MAX, YEAR_MIN, MemberNo, RequestBody
from models.org import Organisation
from models.states import EnrollmentKind, OrgLevel, Role, RosterCategory
from rules.calendar import bounds
from rules.fees import to_fen
from services.enrollment_views import (
    EnrollmentView,
    RosterMember,
    enrollment_view,
    fresh_enrollment_view,
    load_enrollment,
    notice_for,
    refuse_if_failed_unpaid,
    roster_page,
)
from services.extensions import with_extensions
from services.orgs import get_org, require_card_work
from services.waiting import fill
from services.workflow_calls import DecisionStep, actor_ref, row_remover, run_update, start_workflow
from services.workflow_inputs import enrollment_input
from workflows.common import Act, Decision, Selection
from workflows.enrollment import (
    EnrollmentInput,
    EnrollmentSummary,
    EnrollmentWorkflow,
    Payment,
    RosterCounts,
    RosterEditResult,
    SubmitEnrollment,
    enrollment_workflow_id,
)

log = get_logger("api.enrollments")
router = APIRouter(tags=["enrollments"])


class EnrollmentCreate(RequestBody):
    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX, description="The coverage year.")
    kind: EnrollmentKind = EnrollmentKind.REGULAR


class MembersChoice(RequestBody):
    member_nos: list[MemberNo] = Field(default_factory=list, max_length=ITEMS_MAX)
    all: bool = Field(False, description="every member awaiting confirmation")


class SubmitBody(RequestBody):
    protection_type: str | None = Field(
        None, min_length=1, max_length=8, description="The year's type; none when types follow each member's card."
    )
    step: DecisionStep


class ReviewBody(RequestBody):
    approve: bool
    reason: Annotated[str | None, MULTILINE] = Field(None, max_length=300)
    step: DecisionStep


class PaymentBody(RequestBody):
    amount: Decimal = Field(ge=0, le=PAYMENT_MAX, decimal_places=2, description="CNY received from the union")
    reference: str = Field(min_length=1, max_length=80, description="Transfer reference or receipt number")
    step: DecisionStep


class CancelBody(RequestBody):
    reason: Annotated[str | None, MULTILINE] = Field(None, max_length=300)


def _workflow_input(session: Session, settings: Settings, org: Organisation, enrollment: Enrollment) -> EnrollmentInput:
    parent = session.get(Organisation, org.parent_id) if org.parent_id else None
    config = with_extensions(session, get_config(session, enrollment.year), enrollment.year, org.district_code or "")
    return enrollment_input(
        config,
        settings.timezone,
        enrollment_id=enrollment.id or 0,
        org=(org.code, org.path),
        district_code=org.district_code or "",
        secondary_code=parent.code if parent and parent.level is OrgLevel.SECONDARY else None,
        year=enrollment.year,
        kind=enrollment.kind.value,
    )


def _check_instant_allowed(session: Session, settings: Settings, org: Organisation, year: int) -> None:
    config = get_config(session, year)
    _, closes = bounds(config.submission_window, settings.timezone)
    _, coverage_ends = bounds(config.coverage, settings.timezone)
    now = datetime.now(UTC)
    if now < closes:
        raise Conflict(
            "use_regular_enrollment",
            f"集中参保提交期（{config.submission_window.label()}）内请办理集中参保，期满后可办理即时参保",
        )
    if now >= coverage_ends:
        raise Conflict("coverage_over", f"{year}年度保障期已结束")


@router.post("/orgs/{code}/enrollments", status_code=status.HTTP_201_CREATED)
async def create_enrollment(
    code: str,
    data: EnrollmentCreate,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Open the union's enrollment for a coverage year (one regular enrollment per union and year;
    instant enrollments after the submission window). The roster is built at once; when it cannot
    be built in time (its workflow retries it), the enrollment is answered as it is, with
    ``waiting`` saying what is retried: it exists, and sending the request again would be refused."""
    enrollment_id, workflow_id, inp = await run_in_threadpool(_open_enrollment, session, settings, code, data, actor)
    await start_workflow(
        session, temporal, EnrollmentWorkflow.run, inp, id=workflow_id, task_queue=settings.task_queue,
        undo=row_remover(session, Enrollment, enrollment_id),
    )  # fmt: skip
    try:
        await run_update(
            temporal,
            workflow_id,
            EnrollmentWorkflow.roster_ready,
            None,
            rpc_seconds=settings.update_timeout_seconds,
            result_type=RosterCounts,
            session=session,
        )
    except Unavailable as exc:
        if exc.code != "worker_unavailable":
            raise
        log.warning("enrollment.roster_pending", enrollment_id=enrollment_id)
    view = await run_in_threadpool(fresh_enrollment_view, session, enrollment_id, actor)
    return (await fill(temporal_source(request), actor, "enrollment", [(view, workflow_id, view.status.value)]))[0]


def _open_enrollment(
    session: Session, settings: Settings, code: str, data: EnrollmentCreate, actor: Actor
) -> tuple[int, str, EnrollmentInput]:
    """The enrollment's row, its workflow's id and input (in a worker thread: the event loop never
    waits for the database)."""
    org = get_org(session, code)
    require(actor, org, Role.CLERK)
    require_card_work(org)
    get_config(session, data.year)
    if data.kind is EnrollmentKind.REGULAR:
        existing = session.exec(
            select(Enrollment).where(
                Enrollment.org_id == org.id, Enrollment.year == data.year, Enrollment.kind == EnrollmentKind.REGULAR
            )
        ).first()
        if existing is not None:
            raise Conflict(
                "enrollment_exists", f"本单位{data.year}年度已有集中参保", details={"enrollment_id": existing.id}
            )
    else:
        _check_instant_allowed(session, settings, org, data.year)
    enrollment = Enrollment(
        org_id=org.id or 0,
        year=data.year,
        kind=data.kind,
        district_code=org.district_code or "",
        secondary_org_id=org.parent_id if org.parent_id else None,
        workflow_id="",
        created_by=actor.user_id,
    )
    session.add(enrollment)
    session.flush()
    enrollment.workflow_id = enrollment_workflow_id(org.code, data.year, data.kind.value, enrollment.id or 0)
    inp = _workflow_input(session, settings, org, enrollment)
    made = (enrollment.id or 0, enrollment.workflow_id, inp)
    session.commit()
    return made


@router.get("/orgs/{code}/enrollments")
async def list_enrollments(
    code: str,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    year: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX),
    status: str | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(50, ge=1, le=500),
) -> list[EnrollmentView]:
    """Enrollments of a union, or of every union below the organisation, each with what its
    workflow keeps retrying (``waiting``)."""
    rows = await run_in_threadpool(_list_enrollments, session, actor, code, year, status, page, size)
    return await fill(temporal_source(request), actor, "enrollment", rows)


def _list_enrollments(
    session: Session, actor: Actor, code: str, year: int | None, status: str | None, page: int, size: int
) -> list[tuple[EnrollmentView, str, str]]:
    org = get_org(session, code)
    require(actor, org)
    below = select(Organisation.id).where(col(Organisation.path).startswith(org.path))
    query = select(Enrollment, Organisation).join(Organisation, col(Organisation.id) == col(Enrollment.org_id))
    query = query.where(col(Enrollment.org_id).in_(below))
    if year:
        query = query.where(Enrollment.year == year)
    if status:
        query = query.where(col(Enrollment.status) == status)
    rows = session.exec(query.order_by(col(Enrollment.id).desc()).offset((page - 1) * size).limit(size)).all()
    return [(enrollment_view(session, e, o, actor, history=False), e.workflow_id, e.status.value) for e, o in rows]


@router.get("/enrollments/{enrollment_id}")
async def read_enrollment(
    enrollment_id: int, request: Request, session: SessionDep, actor: CurrentActor
) -> EnrollmentView:
    """Status, roster counts, fee and split, the caller's actions, the history, and (``waiting``)
    what its workflow keeps retrying."""
    view, workflow_id = await run_in_threadpool(_read_enrollment, session, enrollment_id, actor)
    return (await fill(temporal_source(request), actor, "enrollment", [(view, workflow_id, view.status.value)]))[0]


def _read_enrollment(session: Session, enrollment_id: int, actor: Actor) -> tuple[EnrollmentView, str]:
    enrollment, org = load_enrollment(session, enrollment_id, actor)
    return enrollment_view(session, enrollment, org, actor), enrollment.workflow_id


@router.get("/enrollments/{enrollment_id}/members")
def roster_members(
    enrollment_id: int,
    session: SessionDep,
    actor: CurrentActor,
    category: RosterCategory | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(100, ge=1, le=1000),
) -> list[RosterMember]:
    """The roster by category: enrolled, awaiting (confirmation), no_card, retired, deceased, removed."""
    load_enrollment(session, enrollment_id, actor)
    return roster_page(session, enrollment_id, category, page, size)


async def _update(
    session: Session,
    temporal: Any,
    settings: Settings,
    actor: Actor,
    enrollment_id: int,
    update: Any,
    arg: Any,
    rt: Any,
) -> EnrollmentView:
    def workflow_of_enrollment() -> str:  # in a worker thread: the event loop never waits for the database
        enrollment, _ = load_enrollment(session, enrollment_id, actor)
        session.commit()
        refuse_if_failed_unpaid(session, enrollment, settings.timezone)
        return enrollment.workflow_id

    await run_update(
        temporal,
        await run_in_threadpool(workflow_of_enrollment),
        update,
        arg,
        rpc_seconds=settings.update_timeout_seconds,
        result_type=rt,
    )
    return await run_in_threadpool(fresh_enrollment_view, session, enrollment_id, actor)


async def _roster_edit(
    session: Session, temporal: Any, settings: Settings, actor: Actor, enrollment_id: int, data: MembersChoice, how: str
) -> EnrollmentView:
    if not data.member_nos and not data.all:
        raise Invalid("members_required", "请选择会员，或选择全部")

    def stage() -> int:
        load_enrollment(session, enrollment_id, actor)
        selection = MemberSelection(purpose=how, items=data.member_nos, everything=data.all, created_by=actor.user_id)
        session.add(selection)
        session.flush()
        selection_id = selection.id or 0
        session.commit()
        return selection_id

    update = EnrollmentWorkflow.confirm if how == "confirm" else EnrollmentWorkflow.remove
    arg = Selection(actor_ref(actor), await run_in_threadpool(stage))
    return await _update(session, temporal, settings, actor, enrollment_id, update, arg, RosterEditResult)


@router.post("/enrollments/{enrollment_id}/confirm")
async def confirm_members(
    enrollment_id: int,
    data: MembersChoice,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Confirm members without social insurance (one, several or all). Confirmed members cannot be
    removed; confirming after submission takes the enrollment back to draft (submit again)."""
    return await _roster_edit(session, temporal, settings, actor, enrollment_id, data, "confirm")


@router.post("/enrollments/{enrollment_id}/remove")
async def remove_members(
    enrollment_id: int,
    data: MembersChoice,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Take members who are not confirmed off the roster (e.g. retired since the last update)."""
    if data.all:
        raise Invalid("members_required", "请逐个选择要移出的会员")
    return await _roster_edit(session, temporal, settings, actor, enrollment_id, data, "remove")


@router.post("/enrollments/{enrollment_id}/refresh")
async def refresh_roster(
    enrollment_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> EnrollmentView:
    """Build the roster again from the registry, keeping confirmations and removals."""
    arg = Act(actor_ref(actor))
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.refresh, arg, RosterCounts
    )


@router.post("/enrollments/{enrollment_id}/submit")
async def submit_enrollment(
    enrollment_id: int,
    data: SubmitBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Submit with the year's protection type: the fee and split are computed, the notice produced."""
    enrollment, _ = load_enrollment(session, enrollment_id, actor)
    config = get_config(session, enrollment.year)
    if config.by_card:
        if data.protection_type is not None:
            raise Invalid(
                "protection_type_by_card",
                f"{enrollment.year}年度的保障类型按每位会员的办卡和注册时间确定，提交时无需选择保障类型",
                details={"field": "protection_type"},
            )
    elif data.protection_type is None:
        codes = "、".join(t.code for t in config.protection_types)
        raise Invalid("protection_type_required", f"请选择保障类型：{codes}", details={"field": "protection_type"})
    elif config.protection(data.protection_type) is None:
        codes = "、".join(t.code for t in config.protection_types)
        raise Invalid("unknown_protection_type", f"保障类型须为以下之一：{codes}", details={"field": "protection_type"})
    arg = SubmitEnrollment(actor_ref(actor), data.protection_type or "", data.step)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.submit, arg, EnrollmentSummary
    )


@router.post("/enrollments/{enrollment_id}/review")
async def review_enrollment(
    enrollment_id: int,
    data: ReviewBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """The secondary union (if any), then the district: approve, or return with a reason."""
    arg = Decision(actor_ref(actor), data.approve, data.reason or "", data.step)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.review, arg, EnrollmentSummary
    )


@router.post("/enrollments/{enrollment_id}/payment")
async def record_payment(
    enrollment_id: int,
    data: PaymentBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """The district records the grassroots share as received (the exact amount, before the deadline)."""
    arg = Payment(actor_ref(actor), to_fen(data.amount), data.reference, data.step)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.record_payment, arg, EnrollmentSummary
    )


@router.post("/enrollments/{enrollment_id}/cancel")
async def cancel_enrollment(
    enrollment_id: int,
    data: CancelBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    arg = Act(actor_ref(actor), data.reason)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.cancel, arg, EnrollmentSummary
    )


@router.get("/enrollments/{enrollment_id}/notice", response_class=Response)
def notice(
    enrollment_id: int,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    format: str = Query("html", pattern="^(html|pdf)$"),
) -> Response:
    """The notice letter (告知书): count, total and split, the payment deadline and coverage."""
    enrollment, org = load_enrollment(session, enrollment_id, actor)
    if not fee_lines(enrollment):
        raise Conflict("not_submitted", "提交集中参保后才有告知书")
    letter = notice_for(session, enrollment, org, settings)
    name = f"notice-{enrollment.year}-{org.code}"
    if format == "pdf":
        return Response(
            notice_pdf(letter),
            media_type="application/pdf",
            headers={"Content-Disposition": f"attachment; filename={name}.pdf"},
        )
    return Response(notice_html(letter), media_type="text/html; charset=utf-8")
