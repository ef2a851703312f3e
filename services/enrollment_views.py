"""How an enrollment is shown: counts, fee and split in yuan, what the caller may do, the history,
a page of its roster, and the notice letter built from it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.audit import audit_history, audit_public
from core.auth import Actor, load_in_scope
from core.errors import Conflict, NotFound
from core.programme import get_config
from core.settings import Settings
from documents.notices import Notice, NoticeLine
from models.audit import AuditEvent, AuditPublic
from models.enrollment import Enrollment, EnrollmentMember, FeeLine, fee_lines
from models.member import Member
from models.org import Organisation
from models.programme import ProgrammeYear, ProgrammeYearConfig
from models.states import EnrollmentKind, EnrollmentStatus, Role, RosterCategory
from rules.calendar import local_date, today
from rules.money import amount
from services.extensions import with_extensions
from services.labels import StatusLabelled
from services.waiting import Waiting
from workflows.machines import allowed

S = EnrollmentStatus


class RosterMember(BaseModel):
    member_no: str
    name: str
    category: RosterCategory
    confirmed: bool


class FeeLineView(BaseModel):
    """One protection type of an enrollment: its members, their fee, their coverage once set."""

    protection_type: str
    name: str
    members: int
    total: str
    coverage_start: date | None
    coverage_end: date | None


class EnrollmentView(StatusLabelled):
    id: int
    org_code: str
    org_name: str
    year: int
    kind: EnrollmentKind
    status: EnrollmentStatus
    awaiting: str | None
    protection_type: str | None = Field(description="The clerk's choice; none when types follow each member's card.")
    types_by_card: bool = Field(False, description="The year's types follow each member's card (the 2014 rules).")
    protection_types: list[FeeLineView] = Field(
        default_factory=list, description="Members, fee and coverage per protection type, once submitted."
    )
    members_total: int
    enrolled: int
    awaiting_confirmation: int
    no_card: int
    retired: int
    deceased: int
    removed: int
    total: str
    city_share: str
    district_share: str
    grassroots_share: str
    paid: str | None
    payment_ref: str | None
    return_reason: str | None
    coverage_start: date | None
    coverage_end: date | None
    step: int = Field(description="The current step: what a decision on this view sends as its `step`.")
    waiting: Waiting | None = Field(None, description="What the workflow is retrying, when an activity failed.")
    actions: list[str]
    history: list[AuditPublic]


def enrollment_actions(actor: Actor, org: Organisation, e: Enrollment, secondary_code: str | None) -> list[str]:
    events = allowed(e.status.value, "enrollment")
    out: list[str] = []
    if actor.is_admin or (actor.role is Role.CLERK and actor.org_id == org.id):
        if "edit" in events:
            out += ["confirm", "remove", "refresh"]
        elif "reopen" in events and e.awaiting_confirmation:
            out.append("confirm")
        out += [a for a in ("submit", "cancel") if a in events]
    reviewer = actor.role is Role.REVIEWER  # an admin repairs workflows; reviewers decide
    if reviewer and e.status is S.SECONDARY_REVIEW and actor.org_code == secondary_code:
        out += ["approve", "return"]
    if reviewer and actor.org_code == e.district_code and e.status is S.DISTRICT_REVIEW:
        out += ["approve", "return"]
    if (actor.is_admin or (reviewer and actor.org_code == e.district_code)) and e.status is S.APPROVED:
        out.append("record_payment")
    return out


def enrollment_view(
    session: Session, e: Enrollment, org: Organisation, actor: Actor, *, history: bool = True
) -> EnrollmentView:
    parent = session.get(Organisation, e.secondary_org_id) if e.secondary_org_id else None
    events = audit_history(session, "enrollment", e.id or 0) if history else []
    config = session.get(ProgrammeYear, e.year)
    year = ProgrammeYearConfig.model_validate(config.config) if config else None
    return EnrollmentView(
        id=e.id or 0,
        org_code=org.code,
        org_name=org.name,
        year=e.year,
        kind=e.kind,
        status=e.status,
        awaiting=e.awaiting,
        protection_type=e.protection_type,
        types_by_card=bool(year and year.by_card),
        protection_types=[_line_view(line, year) for line in fee_lines(e)],
        members_total=e.members_total,
        enrolled=e.enrolled,
        awaiting_confirmation=e.awaiting_confirmation,
        no_card=e.no_card,
        retired=e.retired,
        deceased=e.deceased,
        removed=e.removed,
        total=amount(e.total_fen),
        city_share=amount(e.city_fen),
        district_share=amount(e.district_fen),
        grassroots_share=amount(e.grassroots_fen),
        paid=amount(e.paid_fen) if e.paid_fen is not None else None,
        payment_ref=e.payment_ref,
        return_reason=e.return_reason,
        coverage_start=e.coverage_start,
        coverage_end=e.coverage_end,
        step=e.last_step,
        actions=enrollment_actions(
            actor, org, e, parent.code if parent and parent.level.value == "secondary" else None
        ),
        history=[audit_public(ev, org.code) for ev in events],
    )


def _line_view(line: FeeLine, year: ProgrammeYearConfig | None) -> FeeLineView:
    protection = year.protection(line.code) if year else None
    coverage = year.coverage_of(line.code) if year else None
    return FeeLineView(
        protection_type=line.code,
        name=protection.name if protection else line.code,
        members=line.members,
        total=amount(line.total_fen),
        coverage_start=line.coverage_start or (coverage.start if coverage else None),
        coverage_end=line.coverage_end or (coverage.end if coverage else None),
    )


def load_enrollment(session: Session, enrollment_id: int, actor: Actor) -> tuple[Enrollment, Organisation]:
    missing = NotFound("enrollment_not_found", f"参保记录 {enrollment_id} 不存在")
    return load_in_scope(session, Enrollment, enrollment_id, actor, missing)


def refuse_if_failed_unpaid(session: Session, e: Enrollment, tz: str) -> None:
    """An enrollment that failed unpaid has ended: nothing can be paid or done on it any more; the
    union enrolls again by instant enrollment (409 enrollment_failed_unpaid, the day it failed)."""
    if e.status is not EnrollmentStatus.FAILED_UNPAID:
        return
    step = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "enrollment", AuditEvent.entity_id == str(e.id))
        .where(AuditEvent.action == "enrollment.fail_unpaid")
        .order_by(col(AuditEvent.at).desc())
    ).first()
    failed_on = local_date(step.at if step else e.updated_at, tz).isoformat()
    why = f"：{step.summary}" if step and step.summary else "（逾期未缴费）"
    raise Conflict(
        "enrollment_failed_unpaid",
        f"该{e.year}年度参保已于{failed_on}失效{why}。不能再缴费或办理，请改为办理即时参保",
        details={"failed_on": failed_on, "instant_enrollment": EnrollmentKind.INSTANT.value},
    )


def fresh_enrollment_view(session: Session, enrollment_id: int, actor: Actor) -> EnrollmentView:
    session.expire_all()
    enrollment, org = load_enrollment(session, enrollment_id, actor)
    return enrollment_view(session, enrollment, org, actor)


def roster_page(
    session: Session, enrollment_id: int, category: RosterCategory | None, page: int, size: int
) -> list[RosterMember]:
    """A page of the roster, of one category or all."""
    query = select(EnrollmentMember, Member.name).join(Member, col(Member.member_no) == col(EnrollmentMember.member_no))
    query = query.where(EnrollmentMember.enrollment_id == enrollment_id)
    if category:
        query = query.where(EnrollmentMember.category == category)
    rows = session.exec(query.order_by(col(EnrollmentMember.member_no)).offset((page - 1) * size).limit(size))
    return [RosterMember(member_no=m.member_no, name=n, category=m.category, confirmed=m.confirmed) for m, n in rows]


def notice_for(session: Session, e: Enrollment, org: Organisation, settings: Settings) -> Notice:
    """The notice letter, signed by the Mutual Aid Center (``UNIONCARD_CENTER_NAME``), dated by the
    day it was submitted in the programme's time zone; the payment deadline with the district's
    extensions."""
    tz = settings.timezone
    config = with_extensions(session, get_config(session, e.year), e.year, e.district_code)
    issued = local_date(e.submitted_at, tz) if e.submitted_at else today(tz)
    lines, periods = [], []
    for line in fee_lines(e):
        protection, coverage = config.protection(line.code), config.coverage_of(line.code)
        start, end = line.coverage_start or coverage.start, line.coverage_end or coverage.end
        lines.append(NoticeLine(line.code, protection.name if protection else "", line.members, line.total_fen,
                                start, end))  # fmt: skip
        if line.members:
            periods.append((start, end))
    periods = periods or [(line.coverage_start or config.coverage.start, line.coverage_end or config.coverage.end)
                          for line in fee_lines(e)]  # fmt: skip
    return Notice(
        addressee=org.name,
        year=e.year,
        plan_name=config.plan_name,
        lines=lines,
        total_fen=e.total_fen,
        city_fen=e.city_fen,
        district_fen=e.district_fen,
        grassroots_fen=e.grassroots_fen,
        payment_deadline=config.payment_deadline,
        coverage_start=min((p[0] for p in periods), default=e.coverage_start or config.coverage.start),
        coverage_end=max((p[1] for p in periods), default=e.coverage_end or config.coverage.end),
        issuer=settings.center_name,
        issued_on=issued,
    )
