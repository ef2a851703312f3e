"""What waits for the caller: enrollments to review or whose payment to record, returned
enrollments, district filings, vouchers to check, card batch revocations to decide; and what
keeps retrying a failed step (a bank that does not accept a batch yet)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, computed_field
from sqlalchemy import func
from sqlmodel import Session, col, or_, select
from starlette.concurrency import run_in_threadpool

from core.auth import Actor
from models.audit import AuditEvent
from models.card_batch import CardBatch
from models.claim import Claim
from models.enrollment import DistrictFiling, Enrollment
from models.org import Organisation
from models.programme import ProgrammeYear, ProgrammeYearConfig
from models.states import CardBatchStatus, DistrictFilingStatus, Role, label
from rules.calendar import today
from rules.money import yuan
from services.labels import StatusLabelled
from services.waiting import MAY_WAIT, TASK_ROWS, TemporalSource, Waiting, lookup

# What each kind of task is, as the inbox and the home page name it (and GET /tasks gives as kind_label).
KIND_LABELS = {
    "claim_review": "给付申请待审核",
    "claim_returned": "给付申请已退回",
    "enrollment_review": "集中参保待审核",
    "enrollment_payment": "集中参保待登记缴费",
    "enrollment_returned": "集中参保已退回",
    "voucher_review": "缴费凭证待审核",
    "voucher_upload": "待上传缴费凭证",
    "revocation_review": "批次撤销待审批",
    "retrying": "后台正在重试",
}


class Task(StatusLabelled):
    kind: str  # one of KIND_LABELS
    entity_type: str
    entity_id: int
    org_code: str
    org_name: str
    status: str
    summary: str
    link: str
    step: int = Field(0, description="The step a decision on it names (the row's last step).")
    since: datetime | None = Field(None, description="When it last changed: how long it has waited.")
    age_seconds: int = Field(0, description="Seconds since it last changed.")
    deadline: date | None = Field(None, description="The day by which it must be done (payment, window, return).")
    days_left: int | None = Field(None, description="Days from today to the deadline (0: today; negative: past).")
    waiting: Waiting | None = Field(None, description="For kind retrying: what is retried, the attempt, the next.")

    @computed_field(description="The kind as a person reads it, e.g. 集中参保待审核")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


_ENROLLMENT_TASKS = {
    "secondary_reviewer": ("enrollment_review", "待二级工会审核"),
    "district_reviewer": ("enrollment_review", "待区局审核"),
    "payment": ("enrollment_payment", "待登记基层单位缴费"),
    "clerk": ("enrollment_returned", "已退回，待修改后重新提交"),
}


KIND_ROWS = 10_000  # rows of one kind a list reads at most (then paged)


def _payment_deadline(session: Session, year: int) -> date | None:
    row = session.get(ProgrammeYear, year)  # the session's identity map keeps each year once
    return ProgrammeYearConfig.model_validate(row.config).payment_deadline if row else None


def _batch_steps(session: Session, batch_ids: list[int]) -> dict[str, int]:
    """Each batch's step, the number of its workflow's last transition (its audit rows carry them),
    by batch id as the audit keys it: one query for all of them."""
    if not batch_ids:
        return {}
    rows = session.exec(
        select(AuditEvent.entity_id, func.max(AuditEvent.step_no))
        .where(AuditEvent.entity_type == "card_batch", col(AuditEvent.entity_id).in_([str(i) for i in batch_ids]))
        .group_by(col(AuditEvent.entity_id))
    ).all()
    return {entity_id: int(step or 0) for entity_id, step in rows}


def _enrollment_tasks(session: Session, actor: Actor) -> list[Task]:
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
    for e, org in session.exec(query.order_by(col(Enrollment.updated_at)).limit(KIND_ROWS)).all():
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
                step=e.last_step,
                since=e.updated_at,
                deadline=_payment_deadline(session, e.year),
            )
        )
    return tasks


def _filing_tasks(session: Session, actor: Actor) -> list[Task]:
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
            step=f.last_step,
            since=f.updated_at,
        )
        for f, org in session.exec(query).all()
    ]


def _revocation_tasks(session: Session, actor: Actor) -> list[Task]:
    if actor.role is not Role.REVIEWER and not actor.is_admin:
        return []
    query = (
        select(CardBatch, Organisation)
        .join(Organisation, col(Organisation.id) == col(CardBatch.org_id))
        .where(CardBatch.status == CardBatchStatus.REVOCATION_REQUESTED)
    )
    if not actor.is_admin:
        query = query.where(col(Organisation.path).startswith(actor.org_path))
    rows = session.exec(query.limit(KIND_ROWS)).all()
    steps = _batch_steps(session, [b.id or 0 for b, _ in rows])
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
            step=steps.get(str(b.id), 0),
            since=b.updated_at,
        )
        for b, org in rows
    ]


def _claim_tasks(session: Session, actor: Actor) -> list[Task]:
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
            step=c.last_step,
            since=c.updated_at,
        )
        for c, org in session.exec(query.order_by(col(Claim.updated_at)).limit(KIND_ROWS)).all()
    ]


# What may be retrying, by kind: its table and how a person names one of its rows.
_RETRYABLE: tuple[tuple[str, Any, str, Callable[[Any], str]], ...] = (
    ("card_batch", CardBatch, "/card-batches", lambda b: f"办卡批次 {b.batch_no or b.id}"),
    ("enrollment", Enrollment, "/enrollments", lambda e: f"{e.year}年度集中参保"),
    ("claim", Claim, "/claims", lambda c: f"会员 {c.member_no} 的{label(c.kind)}给付申请"),
)


def _retry_candidates(session: Session, actor: Actor) -> list[tuple[Task, str]]:
    """Batches, enrollments and claims of the clerk's union (an admin's: of every union) in a
    status where their workflow works by itself, the most recently changed first, with their
    workflow ids: tasks once their workflow is found retrying."""
    if actor.role is not Role.CLERK and not actor.is_admin:
        return []
    out: list[tuple[Task, str]] = []
    for kind, model, path, title in _RETRYABLE:
        query = select(model, Organisation).join(Organisation, col(Organisation.id) == col(model.org_id))
        query = query.where(col(model.status).in_(sorted(MAY_WAIT[kind])))
        if not actor.is_admin:
            query = query.where(model.org_id == actor.org_id)
        for row, org in session.exec(query.order_by(col(model.updated_at).desc()).limit(TASK_ROWS)).all():
            task = Task(
                kind="retrying", entity_type=kind, entity_id=row.id or 0, org_code=org.code, org_name=org.name,
                status=row.status.value, summary=title(row), link=f"{path}/{row.id}",
            )  # fmt: skip
            out.append((task, row.workflow_id))
    return out


async def _retrying_tasks(source: TemporalSource, session: Session, actor: Actor, tz: str) -> list[Task]:
    candidates = await run_in_threadpool(_retry_candidates, session, actor)
    found = await lookup(source, actor, [workflow_id for _, workflow_id in candidates])
    tasks = []
    for task, workflow_id in candidates:
        if (waiting := found.get(workflow_id)) is not None:
            task.summary += f"：{waiting.message}"
            if waiting.next_attempt_at:
                at = waiting.next_attempt_at.astimezone(ZoneInfo(tz))
                task.summary += f"，下次重试 {at.month}月{at.day}日 {at:%H:%M:%S}"
            task.waiting = waiting
            tasks.append(task)
    return tasks


def _decisions(session: Session, actor: Actor) -> list[Task]:
    return (
        _enrollment_tasks(session, actor)
        + _filing_tasks(session, actor)
        + _revocation_tasks(session, actor)
        + _claim_tasks(session, actor)
    )


async def my_tasks(
    *, session: Session, actor: Actor, source: TemporalSource, tz: str, page: int = 1, size: int = 10_000
) -> list[Task]:
    """Everything waiting for the caller's decision or action, the nearest deadline first, then the
    longest waiting; then, for a clerk (their union's) and for admins (every union's), the batches,
    enrollments and claims whose workflow keeps retrying something that failed (kind ``retrying``,
    with ``waiting``: what, the attempt and when the next one is). A page of ``size`` of them."""
    found = await run_in_threadpool(_decisions, session, actor) + await _retrying_tasks(source, session, actor, tz)
    now, day = datetime.now(UTC), today(tz)
    for task in found:
        if task.since is not None:
            task.age_seconds = max(0, int((now - task.since).total_seconds()))
        if task.deadline is not None:
            task.days_left = (task.deadline - day).days
    found.sort(key=lambda t: (t.kind == "retrying", t.deadline or date.max, -t.age_seconds))
    return found[(page - 1) * size : page * size]
