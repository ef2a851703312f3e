"""Benefit claims (保障给付): applying (the answer waits for the eligibility check), reading and
listing, review level by level, amending and resubmitting a returned claim, evidence."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import psycopg
from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from activities.projection import project
from core.audit import audit_action
from core.auth import Actor, require
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from core.settings import Settings
from documents.file_types import checked_type
from models.claim import Claim, ClaimEvidence
from models.enrollment import Enrollment, EnrollmentMember
from models.inputs import MULTILINE, YEAR_MIN, RequestBody
from models.member import Member
from models.org import Organisation
from models.programme import ProgrammeYear, ProgrammeYearConfig
from models.states import ClaimKind, ClaimStatus, Illness, OrgLevel, Role, RosterCategory, label
from rules.calendar import today
from services.claim_views import ClaimView, EvidencePublic, claim_view, claim_views, fresh_claim_view, load_claim
from services.orgs import get_org
from services.waiting import TemporalSource, fill
from services.workflow_calls import DecisionStep, actor_ref, run_update, start_with_update
from workflows.claim import ClaimDecision, ClaimInput, ClaimSummary, ClaimWorkflow, Resubmission, claim_workflow_id
from workflows.common import Step

EVIDENCE_TYPES = {"application/pdf", "image/jpeg", "image/png"}
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024


class ClaimCreate(RequestBody):
    kind: ClaimKind
    illness: Illness | None = Field(None, description="critical_illness: one of the four illnesses")
    hospitalised: bool = Field(False, description="critical_illness: treated in hospital")
    event_date: date = Field(
        ge=date(YEAR_MIN, 1, 1), description="Date of first diagnosis, of the accident, or of death"
    )
    description: Annotated[str, MULTILINE] = Field(min_length=2, max_length=1000)
    beneficiary_name: str | None = Field(None, min_length=2, max_length=60, description="accidental_death")
    beneficiary_relation: str | None = Field(None, min_length=1, max_length=20, description="accidental_death")

    @model_validator(mode="after")
    def _complete(self) -> ClaimCreate:
        if self.kind is ClaimKind.CRITICAL_ILLNESS and self.illness is None:
            raise ValueError("重大疾病申请须选择所患疾病（四类重大疾病之一）")
        if self.kind is ClaimKind.ACCIDENTAL_DEATH and not (self.beneficiary_name and self.beneficiary_relation):
            raise ValueError("意外身故申请须填写受益人姓名及其与会员的关系")
        return self


class ClaimAmend(RequestBody):
    description: Annotated[str, MULTILINE] = Field(min_length=2, max_length=1000)


class ClaimReview(RequestBody):
    decision: str = Field(pattern="^(approve|return|reject)$", max_length=7)
    reason: Annotated[str | None, MULTILINE] = Field(None, max_length=300)
    step: DecisionStep


class ResubmitBody(RequestBody):
    step: DecisionStep


def _return_timeout(session: Session, year: int) -> int:
    row = session.get(ProgrammeYear, year)
    return ProgrammeYearConfig.model_validate(row.config).return_timeout_days if row else 30


async def apply(
    *,
    session: Session,
    actor: Actor,
    temporal: Client,
    source: TemporalSource,
    settings: Settings,
    member_no: str,
    data: ClaimCreate,
) -> ClaimView:
    """A clerk of the member's union applies; the answer waits for the eligibility check and
    names every reason a claim is not eligible (a check that cannot be made in time is answered
    with the claim as it is and ``waiting``: the workflow retries it)."""
    inp = await run_in_threadpool(_create, session, member_no, data, actor, settings)
    try:
        await start_with_update(
            temporal,
            ClaimWorkflow.run,
            inp,
            ClaimWorkflow.checked,
            id=claim_workflow_id(inp.claim_id),
            task_queue=settings.task_queue,
            rpc_seconds=settings.update_timeout_seconds,
            result_type=ClaimSummary,
        )
    except Unavailable:
        await run_in_threadpool(_withdraw, session, inp.claim_id)  # no workflow: keep no half-made claim
        raise Unavailable("temporal_unavailable", "流程服务暂不可用，申请未提交，请稍后再试") from None
    view = await run_in_threadpool(fresh_claim_view, session, inp.claim_id, actor)
    return (await fill(source, actor, "claim", [(view, claim_workflow_id(inp.claim_id), view.status.value)]))[0]


def _withdraw(session: Session, claim_id: int) -> None:
    claim = session.get(Claim, claim_id)
    if claim is not None:
        session.delete(claim)
        session.commit()


def _create(session: Session, member_no: str, data: ClaimCreate, actor: Actor, settings: Settings) -> ClaimInput:
    """Store the application (in a worker thread: the event loop never waits for the database)."""
    member = session.get(Member, member_no)
    if member is None:
        raise NotFound("member_not_found", f"会员 {member_no} 不存在")
    org = session.get(Organisation, member.org_id)
    assert org is not None
    require(actor, org, Role.CLERK)
    if data.event_date > today(settings.timezone):
        raise Invalid("event_in_future", "事发日期不能晚于今天", details={"field": "event_date"})
    parent = session.get(Organisation, org.parent_id) if org.parent_id else None
    claim = Claim(
        member_no=member_no,
        org_id=org.id or 0,
        district_code=org.district_code or "",
        workflow_id="",
        created_by=actor.user_id,
        **data.model_dump(),
    )
    session.add(claim)
    session.flush()
    claim.workflow_id = claim_workflow_id(claim.id or 0)
    inp = ClaimInput(
        claim.id or 0,
        org.code,
        org.path,
        org.district_code or "",
        parent.code if parent and parent.level is OrgLevel.SECONDARY else None,
        actor.user_id,
        _return_timeout(session, data.event_date.year),
    )
    session.commit()
    return inp


async def read_claim(*, session: Session, actor: Actor, source: TemporalSource, claim_id: int) -> ClaimView:
    """Status, level, amount, eligibility reasons, the caller's actions, evidence and history, and
    (``waiting``) what its workflow keeps retrying, e.g. a payout the bank does not accept yet."""
    view, workflow_id = await run_in_threadpool(_read_claim, session, claim_id, actor)
    return (await fill(source, actor, "claim", [(view, workflow_id, view.status.value)]))[0]


def _read_claim(session: Session, claim_id: int, actor: Actor) -> tuple[ClaimView, str]:
    claim, org = load_claim(session, claim_id, actor)
    return claim_view(session, claim, org, actor), claim.workflow_id


async def org_claims(
    *,
    session: Session,
    actor: Actor,
    source: TemporalSource,
    code: str,
    status: ClaimStatus | None,
    page: int,
    size: int,
) -> list[ClaimView]:
    """Claims of a union, or of every union below the organisation, each with what its workflow
    keeps retrying (``waiting``)."""
    rows = await run_in_threadpool(_org_claims, session, actor, code, status, page, size)
    return await fill(source, actor, "claim", rows)


def _org_claims(
    session: Session, actor: Actor, code: str, status: ClaimStatus | None, page: int, size: int
) -> list[tuple[ClaimView, str, str]]:
    org = get_org(session, code)
    require(actor, org)
    below = select(Organisation.id).where(col(Organisation.path).startswith(org.path))
    query = select(Claim, Organisation).join(Organisation, col(Organisation.id) == col(Claim.org_id))
    query = query.where(col(Claim.org_id).in_(below))
    if status:
        query = query.where(Claim.status == status)
    rows = session.exec(query.order_by(col(Claim.id).desc()).offset((page - 1) * size).limit(size)).all()
    views = claim_views(session, rows, actor)
    return [(view, c.workflow_id, c.status.value) for view, (c, _) in zip(views, rows, strict=True)]


def member_claims(*, session: Session, actor: Actor, member_no: str) -> list[ClaimView]:
    """A member's claims, for the people who may see the member's union."""
    member = session.get(Member, member_no)
    if member is None:
        raise NotFound("member_not_found", f"会员 {member_no} 不存在")
    org = session.get(Organisation, member.org_id)
    assert org is not None
    require(actor, org)
    claims = session.exec(select(Claim).where(Claim.member_no == member_no).order_by(col(Claim.id))).all()
    return claim_views(session, [(c, org) for c in claims], actor)


async def _update(
    session: Session, temporal: Any, settings: Settings, actor: Actor, claim_id: int, update: Any, arg: Any
) -> ClaimView:
    """Straight to the claim's workflow: its validator checks the caller's role, scope and level
    (nothing is read first); the answer is the claim as the update left it."""
    try:
        summary: ClaimSummary = await run_update(
            temporal,
            claim_workflow_id(claim_id),
            update,
            arg,
            rpc_seconds=settings.update_timeout_seconds,
            result_type=ClaimSummary,
        )
    except Conflict as exc:
        if exc.code in ("workflow_closed", "stale_decision"):  # no such workflow: does the claim exist at all?
            await run_in_threadpool(load_claim, session, claim_id, actor)
        raise
    # The database work runs in a worker thread, so the event loop serves other requests meanwhile.
    return await run_in_threadpool(_projected_view, session, summary.steps, claim_id, actor)


def _projected_view(session: Session, steps: list[Step], claim_id: int, actor: Actor) -> ClaimView:
    """The claim as the caller's step left it. The workflow answers a reviewer without waiting
    for its own write of the step, so the step is written here first (the same write: whichever
    comes second finds it there): the caller's next read, their task list and the lists agree
    with the answer."""
    if steps:
        connection = session.connection().connection.driver_connection
        assert isinstance(connection, psycopg.Connection)
        for step in steps:
            project(connection, step)
    view = fresh_claim_view(session, claim_id, actor)
    session.commit()
    return view


async def review(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, claim_id: int, data: ClaimReview
) -> ClaimView:
    """The level whose turn it is approves (to the next level, or approved for payout), returns
    for more information, or rejects; return and reject need a reason."""
    arg = ClaimDecision(actor_ref(actor), data.decision, data.reason or "", data.step)
    return await _update(session, temporal, settings, actor, claim_id, ClaimWorkflow.review, arg)


def amend(*, session: Session, actor: Actor, claim_id: int, data: ClaimAmend) -> ClaimView:
    """The clerk amends a returned claim's description (then adds evidence and resubmits)."""
    claim, org = load_claim(session, claim_id, actor)
    require(actor, org, Role.CLERK)
    if claim.status is not ClaimStatus.RETURNED:
        raise Conflict("not_allowed_now", "只有退回的申请可以修改")
    claim.description = data.description
    session.add(claim)
    audit_action(session, actor, "claim.amended", ("claim", claim_id), "修改申请说明", org_id=org.id)
    session.commit()
    return fresh_claim_view(session, claim_id, actor)


async def resubmit(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, claim_id: int, data: ResubmitBody
) -> ClaimView:
    """A returned claim goes back through eligibility and on to the level that returned it."""
    arg = Resubmission(actor_ref(actor), step=data.step)
    return await _update(session, temporal, settings, actor, claim_id, ClaimWorkflow.resubmit, arg)


async def add_evidence(
    *, session: Session, actor: Actor, claim_id: int, filename: str | None, content_type: str | None, body: bytes
) -> EvidencePublic:
    """A diagnosis, hospital record, accident report or death certificate (PDF, JPEG, PNG; 10 MB);
    ``body`` is read up to one byte past the limit."""
    org = await run_in_threadpool(_evidence_welcome, session, claim_id, actor)
    if (content_type or "") not in EVIDENCE_TYPES:
        raise Invalid("evidence_type", "证明材料须为 PDF、JPEG 或 PNG 文件", details={"field": "file"})
    if not body or len(body) > EVIDENCE_MAX_BYTES:
        raise Invalid("evidence_size", "证明材料不能为空，且不超过10MB", details={"field": "file"})
    checked = checked_type(body, content_type, "证明材料", "evidence")
    evidence = ClaimEvidence(
        claim_id=claim_id,
        filename=(filename or "evidence")[:200],
        content_type=checked,
        size=len(body),
        data=body,
        uploaded_by=actor.user_id,
    )
    await run_in_threadpool(_store_evidence, session, evidence, org, actor)
    return EvidencePublic(
        id=evidence.id or 0,
        filename=evidence.filename,
        content_type=evidence.content_type,
        size=evidence.size,
        uploaded_at=evidence.uploaded_at.isoformat(),
    )


def _evidence_welcome(session: Session, claim_id: int, actor: Actor) -> Organisation:
    """The claim's union, when its clerk may still add evidence."""
    claim, org = load_claim(session, claim_id, actor)
    require(actor, org, Role.CLERK)
    if claim.status in (ClaimStatus.REJECTED, ClaimStatus.PAID, ClaimStatus.CLOSED, ClaimStatus.APPROVED):
        raise Conflict("not_allowed_now", "申请已审结，不能再添加材料")
    return org


def _store_evidence(session: Session, evidence: ClaimEvidence, org: Organisation, actor: Actor) -> None:
    """Store the file (up to 10 MB: written in a worker thread, not on the event loop) and audit it."""
    session.add(evidence)
    audit_action(
        session,
        actor,
        "claim.evidence_added",
        ("claim", evidence.claim_id),
        f"上传材料 {evidence.filename}",
        org_id=org.id,
    )
    session.commit()
    session.refresh(evidence)


def evidence_file(*, session: Session, actor: Actor, claim_id: int, evidence_id: int) -> ClaimEvidence:
    """An evidence file, for the people who may see the claim (its union, the reviewers above it,
    the center; not admins)."""
    load_claim(session, claim_id, actor)
    evidence = session.get(ClaimEvidence, evidence_id)
    if evidence is None or evidence.claim_id != claim_id:
        raise NotFound("evidence_not_found", "材料不存在")
    if actor.role is Role.ADMIN:
        raise Forbidden("role_not_allowed", "证明材料仅供经办人和审核人查看")
    return evidence


class CoveragePeriod(BaseModel):
    year: int
    start: date | None
    end: date | None
    status: str


class ClaimContext(BaseModel):
    """What a reviewer weighs beside the application: the member's card and their coverage."""

    card_no: str | None
    card_status: str
    card_status_label: str
    coverage: list[CoveragePeriod]


def claim_context(*, session: Session, actor: Actor, claim_id: int) -> ClaimContext:
    claim, _ = load_claim(session, claim_id, actor)
    member = session.get(Member, claim.member_no)
    assert member is not None
    rows = session.exec(
        select(Enrollment, EnrollmentMember)
        .join(EnrollmentMember, col(EnrollmentMember.enrollment_id) == col(Enrollment.id))
        .where(EnrollmentMember.member_no == claim.member_no, EnrollmentMember.category == RosterCategory.ENROLLED)
        .order_by(col(Enrollment.year).desc())
    ).all()
    periods = [
        CoveragePeriod(
            year=e.year,
            start=x.coverage_start or e.coverage_start,
            end=x.coverage_end or e.coverage_end,
            status=e.status.value,
        )
        for e, x in rows
    ]
    return ClaimContext(
        card_no=member.card_no,
        card_status=member.card_status.value,
        card_status_label=label(member.card_status),
        coverage=periods[:5],
    )
