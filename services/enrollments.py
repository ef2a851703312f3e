"""Group insurance enrollment (集中参保): opening, the roster, confirmation, submission, review, payment, notice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from core.auth import Actor, require
from core.errors import Conflict, Invalid, Unavailable
from core.logging import get_logger
from core.programme import get_config
from core.settings import Settings
from documents.notices import notice_html, notice_pdf
from models.enrollment import Enrollment, MemberSelection, fee_lines
from models.inputs import ITEMS_MAX, MULTILINE, PAYMENT_MAX, YEAR_MAX, YEAR_MIN, MemberNo, RequestBody
from models.org import Organisation
from models.states import EnrollmentKind, OrgLevel, Role, RosterCategory
from rules.calendar import bounds
from rules.fees import to_fen
from services.downloads import Download, letter
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
from services.waiting import TemporalSource, fill
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

log = get_logger("services.enrollments")


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


class EnrollmentReview(RequestBody):
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


def _check_instant_allowed(session: Session, settings: Settings, year: int) -> None:
    """An instant enrollment only after the submission window, and before the coverage ends."""
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


async def open_enrollment(
    *, session: Session, actor: Actor, temporal: Client, source: TemporalSource, settings: Settings, code: str,
    data: EnrollmentCreate,
) -> EnrollmentView:  # fmt: skip
    """Open the union's enrollment for a year (its clerk; one regular enrollment per union and
    year, instant ones after the submission window) and build its roster; when the roster cannot be
    built in time, the enrollment as it is, with ``waiting``."""
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
    return (await fill(source, actor, "enrollment", [(view, workflow_id, view.status.value)]))[0]


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
        _check_instant_allowed(session, settings, data.year)
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


async def org_enrollments(
    *, session: Session, actor: Actor, source: TemporalSource, code: str, year: int | None, status: str | None,
    page: int, size: int,
) -> list[EnrollmentView]:  # fmt: skip
    """Enrollments of a union, or of every union below the organisation, each with ``waiting``."""
    rows = await run_in_threadpool(_org_enrollments, session, actor, code, year, status, page, size)
    return await fill(source, actor, "enrollment", rows)


def _org_enrollments(
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


async def read_enrollment(
    *, session: Session, actor: Actor, source: TemporalSource, enrollment_id: int
) -> EnrollmentView:
    """The enrollment for those who may see its union, with its history and ``waiting``."""
    view, workflow_id = await run_in_threadpool(_read_enrollment, session, enrollment_id, actor)
    return (await fill(source, actor, "enrollment", [(view, workflow_id, view.status.value)]))[0]


def _read_enrollment(session: Session, enrollment_id: int, actor: Actor) -> tuple[EnrollmentView, str]:
    enrollment, org = load_enrollment(session, enrollment_id, actor)
    return enrollment_view(session, enrollment, org, actor), enrollment.workflow_id


def roster(
    *, session: Session, actor: Actor, enrollment_id: int, category: RosterCategory | None, page: int, size: int
) -> list[RosterMember]:
    """A page of the roster, of one category or all, for those who may see the enrollment."""
    load_enrollment(session, enrollment_id, actor)
    return roster_page(session, enrollment_id, category, page, size)


async def _update(
    session: Session, temporal: Client, settings: Settings, actor: Actor, enrollment_id: int, update: Any, arg: Any,
    rt: Any,
) -> EnrollmentView:  # fmt: skip
    """An update of the enrollment's workflow (whose validator checks the caller's role and the
    step), unless the enrollment is out of the caller's scope or failed unpaid; the view after it."""

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
    session: Session, temporal: Client, settings: Settings, actor: Actor, enrollment_id: int, data: MembersChoice,
    how: str,
) -> EnrollmentView:  # fmt: skip
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


async def confirm_members(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int, data: MembersChoice
) -> EnrollmentView:
    """Confirm members without social insurance (one, several or all)."""
    return await _roster_edit(session, temporal, settings, actor, enrollment_id, data, "confirm")


async def remove_members(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int, data: MembersChoice
) -> EnrollmentView:
    """Take members who are not confirmed off the roster, each named (never all at once)."""
    if data.all:
        raise Invalid("members_required", "请逐个选择要移出的会员")
    return await _roster_edit(session, temporal, settings, actor, enrollment_id, data, "remove")


async def refresh_roster(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int
) -> EnrollmentView:
    """Build the roster again from the registry, keeping confirmations and removals."""
    arg = Act(actor_ref(actor))
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.refresh, arg, RosterCounts
    )


def _checked_type(session: Session, enrollment_id: int, actor: Actor, protection_type: str | None) -> None:
    """The protection type a submission names: none when the year's types follow each card, else
    one of the year's."""
    enrollment, _ = load_enrollment(session, enrollment_id, actor)
    config = get_config(session, enrollment.year)
    if config.by_card:
        if protection_type is not None:
            raise Invalid(
                "protection_type_by_card",
                f"{enrollment.year}年度的保障类型按每位会员的办卡和注册时间确定，提交时无需选择保障类型",
                details={"field": "protection_type"},
            )
    elif protection_type is None:
        codes = "、".join(t.code for t in config.protection_types)
        raise Invalid("protection_type_required", f"请选择保障类型：{codes}", details={"field": "protection_type"})
    elif config.protection(protection_type) is None:
        codes = "、".join(t.code for t in config.protection_types)
        raise Invalid("unknown_protection_type", f"保障类型须为以下之一：{codes}", details={"field": "protection_type"})


async def submit_enrollment(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int, data: SubmitBody
) -> EnrollmentView:
    """Submit with the year's protection type: the fee and split are computed, the notice produced."""
    await run_in_threadpool(_checked_type, session, enrollment_id, actor, data.protection_type)
    arg = SubmitEnrollment(actor_ref(actor), data.protection_type or "", data.step)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.submit, arg, EnrollmentSummary
    )


async def review_enrollment(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int, data: EnrollmentReview
) -> EnrollmentView:
    """The secondary union (if any), then the district: approve, or return with a reason."""
    arg = Decision(actor_ref(actor), data.approve, data.reason or "", data.step)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.review, arg, EnrollmentSummary
    )


async def record_payment(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int, data: PaymentBody
) -> EnrollmentView:
    """The district records the grassroots share as received (the exact amount, before the deadline)."""
    arg = Payment(actor_ref(actor), to_fen(data.amount), data.reference, data.step)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.record_payment, arg, EnrollmentSummary
    )


async def cancel_enrollment(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, enrollment_id: int, data: CancelBody
) -> EnrollmentView:
    """The union's clerk cancels a draft or returned enrollment."""
    arg = Act(actor_ref(actor), data.reason)
    return await _update(
        session, temporal, settings, actor, enrollment_id, EnrollmentWorkflow.cancel, arg, EnrollmentSummary
    )


def notice(*, session: Session, actor: Actor, settings: Settings, enrollment_id: int, pdf: bool) -> Download:
    """The notice letter (告知书) of a submitted enrollment, as HTML or as a PDF attachment."""
    enrollment, org = load_enrollment(session, enrollment_id, actor)
    if not fee_lines(enrollment):
        raise Conflict("not_submitted", "提交集中参保后才有告知书")
    made = notice_for(session, enrollment, org, settings)
    name = f"notice-{enrollment.year}-{org.code}.pdf"
    return letter(lambda: notice_html(made), (lambda: notice_pdf(made)) if pdf else None, name)
