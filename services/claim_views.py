"""How a claim is shown: the member, amount and eligibility reasons, what the caller may do,
the evidence (without its files) and the history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from core.audit import audit_histories, audit_public
from core.auth import Actor, require
from core.errors import NotFound
from models.audit import AuditEvent, AuditPublic
from models.claim import Claim, ClaimEvidence
from models.member import Member
from models.org import Organisation
from models.states import ClaimKind, ClaimStatus, Illness, Role
from rules.money import amount
from services.labels import StatusLabelled
from services.waiting import Waiting
from workflows.machines import allowed


class EvidencePublic(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    uploaded_at: str


class ClaimView(StatusLabelled):
    id: int
    member_no: str
    member_name: str
    org_code: str
    kind: ClaimKind
    illness: Illness | None
    event_date: date
    description: str
    status: ClaimStatus
    awaiting: str | None
    amount: str
    reasons: list[str]
    return_reason: str | None
    step: int = Field(description="The current step: what a decision on this view sends as its `step`.")
    waiting: Waiting | None = Field(None, description="What the workflow is retrying, when an activity failed.")
    actions: list[str]
    evidence: list[EvidencePublic]
    history: list[AuditPublic]


def load_claim(session: Session, claim_id: int, actor: Actor) -> tuple[Claim, Organisation]:
    row = session.exec(
        select(Claim, Organisation)
        .join(Organisation, col(Organisation.id) == col(Claim.org_id))
        .where(Claim.id == claim_id)
    ).first()
    if row is None:
        raise NotFound("claim_not_found", f"给付申请 {claim_id} 不存在")
    require(actor, row[1])
    return row[0], row[1]


def claim_actions(actor: Actor, org: Organisation, claim: Claim) -> list[str]:
    events = allowed(claim.status.value, "claim")
    out: list[str] = []
    own_clerk = actor.is_admin or (actor.role is Role.CLERK and actor.org_id == org.id)
    if own_clerk and "resubmit" in events:
        out += ["amend", "resubmit", "add_evidence"]
    elif own_clerk and claim.status in (ClaimStatus.APPLIED, ClaimStatus.UNDER_REVIEW):
        out.append("add_evidence")
    if "approve" in events and _may_review(actor, claim):
        out += ["approve", "return", "reject"]
    return out


def _may_review(actor: Actor, claim: Claim) -> bool:
    if actor.is_admin:  # an admin repairs workflows; reviewers decide
        return False
    if claim.awaiting == "center_reviewer":
        return actor.role is Role.CENTER_REVIEWER
    if claim.awaiting == "grassroots_reviewer":
        return (
            actor.org_id == claim.org_id
            and actor.user_id != claim.created_by
            and actor.role is not Role.CENTER_REVIEWER
        )
    return actor.role is Role.REVIEWER and actor.org_id == claim.awaiting_org_id


def claim_view(session: Session, claim: Claim, org: Organisation, actor: Actor) -> ClaimView:
    return claim_views(session, [(claim, org)], actor)[0]


def claim_views(session: Session, rows: Sequence[tuple[Claim, Organisation]], actor: Actor) -> list[ClaimView]:
    """Claims as their readers see them, in three queries however many there are (the members'
    names, the evidence without its files, the histories)."""
    ids = [c.id or 0 for c, _ in rows]
    members = {c.member_no for c, _ in rows}
    names = dict(session.exec(select(Member.member_no, Member.name).where(col(Member.member_no).in_(members))).all())
    evidence: dict[int, list[EvidencePublic]] = defaultdict(list)
    files = select(ClaimEvidence).options(defer(ClaimEvidence.data))  # type: ignore[arg-type]  # not the files
    for e in session.exec(files.where(col(ClaimEvidence.claim_id).in_(ids)).order_by(col(ClaimEvidence.id))).all():
        evidence[e.claim_id].append(
            EvidencePublic(
                id=e.id or 0,
                filename=e.filename,
                content_type=e.content_type,
                size=e.size,
                uploaded_at=e.uploaded_at.isoformat(),
            )
        )
    history: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in audit_histories(session, "claim", ids):
        history[event.entity_id].append(event)
    return [
        ClaimView(
            id=claim.id or 0,
            member_no=claim.member_no,
            member_name=names.get(claim.member_no, ""),
            org_code=org.code,
            kind=claim.kind,
            illness=claim.illness,
            event_date=claim.event_date,
            description=claim.description,
            status=claim.status,
            awaiting=claim.awaiting,
            amount=amount(claim.amount_fen),
            reasons=list(claim.reasons),
            return_reason=claim.return_reason,
            step=claim.last_step,
            actions=claim_actions(actor, org, claim),
            evidence=evidence[claim.id or 0],
            history=[audit_public(e, org.code) for e in history[str(claim.id)]],
        )
        for claim, org in rows
    ]


def fresh_claim_view(session: Session, claim_id: int, actor: Actor) -> ClaimView:
    session.expire_all()
    claim, org = load_claim(session, claim_id, actor)
    return claim_view(session, claim, org, actor)
