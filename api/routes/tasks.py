"""What waits for the caller: enrollments to review or whose payment to record, returned
enrollments, district filings, vouchers to check, card batch revocations to decide."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, or_, select

from api.deps import CurrentActor, SessionDep
from api.labels import StatusLabelled
from core.auth import Actor
from core.money import yuan
from models.card_batch import CardBatch
from models.claim import Claim
from models.enrollment import DistrictFiling, Enrollment
from models.org import Organisation
from models.states import CardBatchStatus, DistrictFilingStatus, Role, label

router = APIRouter(tags=["tasks"])


class Task(StatusLabelled):
    kind: str  # enrollment_review, enrollment_payment, enrollment_returned, voucher_review, revocation_review
    entity_type: str
    entity_id: int
    org_code: str
    org_name: str
    status: str
    summary: str
    link: str


_ENROLLMENT_TASKS = {
    "secondary_reviewer": ("enrollment_review", "待二级工会审核"),
    "district_reviewer": ("enrollment_review", "待区局审核"),
    "payment": ("enrollment_payment", "待登记基层单位缴费"),
    "clerk": ("enrollment_returned", "已退回，待修改后重新提交"),
}


def _enrollment_tasks(session: SessionDep, actor: Actor) -> list[Task]:
    query = select(Enrollment, Organisation).join(Organisation, col(Organisation.id) == col(Enrollment.org_id))
    if actor.role is Role.CLERK:
        query = query.where(Enrollment.org_id == actor.org_id, Enrollment.status == "returned")
    elif actor.role is Role.REVIEWER:
        query = query.where(Enrollment.awaiting_org_id == actor.org_id)
    elif actor.is_admin:
        query = query.where(col(Enrollment.awaiting).in_(["secondary_reviewer", "district_reviewer", "payment"]))
    else:
        return []
    tasks = []
    for e, org in session.exec(query.order_by(col(Enrollment.updated_at)).limit(500)).all():
        kind, what = _ENROLLMENT_TASKS.get(e.awaiting or "", ("enrollment", label(e.status)))
        summary = f"{e.year}年度集中参保：{what}（{e.enrolled}人）"
        if e.return_reason and kind == "enrollment_returned":
            summary += f"；退回原因：{e.return_reason}"
        tasks.append(
            Task(
                kind=kind,
                entity_type="enrollment",
                entity_id=e.id or 0,
                org_code=org.code,
                org_name=org.name,
                status=e.status.value,
                summary=summary,
                link=f"/enrollments/{e.id}",
            )
        )
    return tasks


def _filing_tasks(session: SessionDep, actor: Actor) -> list[Task]:
    if actor.role is Role.CENTER_REVIEWER or actor.is_admin:
        wanted = [DistrictFilingStatus.VOUCHER_UPLOADED]
        query = select(DistrictFiling, Organisation).where(col(DistrictFiling.status).in_(wanted))
    elif actor.role is Role.REVIEWER:
        wanted = [DistrictFilingStatus.SUBMITTED, DistrictFilingStatus.VOUCHER_REJECTED]
        query = select(DistrictFiling, Organisation).where(
            col(DistrictFiling.status).in_(wanted), DistrictFiling.org_id == actor.org_id
        )
    else:
        return []
    query = query.join(Organisation, col(Organisation.id) == col(DistrictFiling.org_id))
    return [
        Task(
            kind="voucher_review" if f.status is DistrictFilingStatus.VOUCHER_UPLOADED else "voucher_upload",
            entity_type="district_filing",
            entity_id=f.id or 0,
            org_code=org.code,
            org_name=org.name,
            status=f.status.value,
            summary=f"{f.year}年度集中参保：{f.enrollments}家单位、{f.members}人",
            link=f"/districts/{org.code}/enrollments/{f.year}",
        )
        for f, org in session.exec(query).all()
    ]


def _revocation_tasks(session: SessionDep, actor: Actor) -> list[Task]:
    if actor.role is not Role.REVIEWER and not actor.is_admin:
        return []
    query = (
        select(CardBatch, Organisation)
        .join(Organisation, col(Organisation.id) == col(CardBatch.org_id))
        .where(CardBatch.status == CardBatchStatus.REVOCATION_REQUESTED)
    )
    if not actor.is_admin:
        query = query.where(col(Organisation.path).startswith(actor.org_path))
    return [
        Task(
            kind="revocation_review",
            entity_type="card_batch",
            entity_id=b.id or 0,
            org_code=org.code,
            org_name=org.name,
            status=b.status.value,
            summary=f"办卡批次 {b.batch_no} 撤销申请（{b.members}人）",
            link=f"/card-batches/{b.id}",
        )
        for b, org in session.exec(query.limit(500)).all()
    ]


def _claim_tasks(session: SessionDep, actor: Actor) -> list[Task]:
    query = select(Claim, Organisation).join(Organisation, col(Organisation.id) == col(Claim.org_id))
    if actor.role is Role.CENTER_REVIEWER:
        query = query.where(Claim.awaiting == "center_reviewer")
    elif actor.role is Role.CLERK:
        query = query.where(
            Claim.org_id == actor.org_id,
            col(Claim.awaiting).in_(["clerk", "grassroots_reviewer"]),
            or_(Claim.awaiting == "clerk", Claim.created_by != actor.user_id),
        )
    elif actor.role is Role.REVIEWER:
        query = query.where(Claim.awaiting_org_id == actor.org_id)
    else:
        query = query.where(col(Claim.awaiting).is_not(None))
    return [
        Task(
            kind="claim_returned" if c.awaiting == "clerk" else "claim_review",
            entity_type="claim",
            entity_id=c.id or 0,
            org_code=org.code,
            org_name=org.name,
            status=c.status.value,
            summary=f"会员 {c.member_no} 的{label(c.kind)}给付申请（{yuan(c.amount_fen)} 元）",
            link=f"/claims/{c.id}",
        )
        for c, org in session.exec(query.order_by(col(Claim.updated_at)).limit(500)).all()
    ]


@router.get("/tasks")
def my_tasks(session: SessionDep, actor: CurrentActor) -> list[Task]:
    """Everything waiting for the caller's decision or action, oldest first within each kind."""
    return (
        _enrollment_tasks(session, actor)
        + _filing_tasks(session, actor)
        + _revocation_tasks(session, actor)
        + _claim_tasks(session, actor)
    )
