"""How a card batch is shown: counts, what the caller may do, the history, and its members."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.audit import audit_history, audit_public
from core.auth import Actor, load_in_scope
from core.errors import NotFound
from models.audit import AuditPublic
from models.card_batch import CardBatch, CardBatchMember
from models.member import Member
from models.org import Organisation
from models.states import CardBatchStatus, CardChannel, Role
from rules.idnumbers import mask_phone
from services.labels import StatusLabelled
from services.waiting import Waiting
from workflows.machines import allowed


class BatchView(StatusLabelled):
    id: int
    org_code: str
    channel: CardChannel
    bank_branch: str
    status: CardBatchStatus
    batch_no: str | None
    members: int
    passed: int
    failed: int
    issued: int
    rejected: int
    overdue: bool
    revocation_applicant: str | None
    revocation_phone: str | None
    actions: list[str]
    history: list[AuditPublic]
    created_at: str
    submitted_at: str | None
    step: int = Field(description="The current step: what a decision on this view sends as its `step`.")
    waiting: Waiting | None = Field(None, description="What the workflow is retrying, when an activity failed.")


class BatchMemberView(BaseModel):
    member_no: str
    name: str
    check: str
    check_reasons: str | None
    outcome: str | None
    card_no: str | None
    reject_reason: str | None


_CLERK_ACTIONS = {
    "edit": ["add_members", "remove_members"],
    "validate": ["validate"],
    "submit": ["submit"],
    "cancel": ["cancel"],
    "request_revocation": ["request_revocation"],
}


def batch_actions(actor: Actor, org: Organisation, batch: CardBatch) -> list[str]:
    events = allowed(batch.status.value)
    out: list[str] = []
    if actor.is_admin or (actor.role is Role.CLERK and actor.org_id == org.id):
        for event in events:
            out += _CLERK_ACTIONS.get(event, [])
        if batch.failed and "edit" in events:
            out.append("remove_failed")
    if actor.role is Role.REVIEWER and actor.covers(org) and "approve_revocation" in events:  # not an admin
        out.append("decide_revocation")
    if actor.is_admin and batch.status in (CardBatchStatus.SUBMITTED, CardBatchStatus.BANK_FEEDBACK):
        out.append("resend")
    return out


def load_batch(session: Session, batch_id: int, actor: Actor) -> tuple[CardBatch, Organisation]:
    return load_in_scope(session, CardBatch, batch_id, actor, NotFound("batch_not_found", f"批次 {batch_id} 不存在"))


def batch_view(session: Session, batch: CardBatch, org: Organisation, actor: Actor) -> BatchView:
    events = audit_history(session, "card_batch", batch.id or 0)
    return BatchView(
        id=batch.id or 0,
        org_code=org.code,
        channel=batch.channel,
        bank_branch=batch.bank_branch,
        status=batch.status,
        batch_no=batch.batch_no,
        members=batch.members,
        passed=batch.passed,
        failed=batch.failed,
        issued=batch.issued,
        rejected=batch.rejected,
        overdue=batch.overdue,
        revocation_applicant=batch.revocation_applicant,
        revocation_phone=mask_phone(batch.revocation_phone) if batch.revocation_phone else None,
        actions=batch_actions(actor, org, batch),
        history=[audit_public(e, org.code) for e in events],
        created_at=batch.created_at.isoformat(),
        submitted_at=batch.submitted_at.isoformat() if batch.submitted_at else None,
        # the batch's transitions are numbered in its audit rows (batches begun before: 0)
        step=max((e.step_no or 0 for e in events), default=0),
    )


def fresh_batch_view(session: Session, batch_id: int, actor: Actor) -> BatchView:
    session.expire_all()
    batch, org = load_batch(session, batch_id, actor)
    return batch_view(session, batch, org, actor)


def batch_member_views(
    session: Session, batch_id: int, check: str | None, page: int, size: int
) -> list[BatchMemberView]:
    """A page of the batch's members with their check results and bank outcomes."""
    query = select(CardBatchMember, Member.name).join(Member, col(Member.member_no) == col(CardBatchMember.member_no))
    query = query.where(CardBatchMember.batch_id == batch_id)
    if check:
        query = query.where(col(CardBatchMember.check) == check)
    rows = session.exec(query.order_by(col(CardBatchMember.member_no)).offset((page - 1) * size).limit(size)).all()
    return [
        BatchMemberView(
            member_no=m.member_no,
            name=name,
            check=m.check.value,
            check_reasons=m.check_reasons,
            outcome=m.outcome.value if m.outcome else None,
            card_no=m.card_no,
            reject_reason=m.reject_reason,
        )
        for m, name in rows
    ]
