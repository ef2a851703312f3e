"""Card batches: the pending list opened, listed and read, its members and their edits, validation,
submission, cancellation, revocation, resending to the bank, and the bank's roster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from core.audit import audit_action
from core.auth import Actor, require
from core.errors import Conflict, Invalid
from core.settings import Settings
from documents.workbooks import roster_xlsx
from models.card_batch import CardBatch, CardBatchMember, CardBatchRequest
from models.inputs import ITEMS_MAX, MULTILINE, MemberNo, RequestBody
from models.member import Member
from models.org import Organisation
from models.states import CardBatchStatus, CardChannel, Role
from services.card_batch_views import (
    BatchMemberView,
    BatchView,
    batch_member_views,
    batch_view,
    fresh_batch_view,
    load_batch,
)
from services.orgs import get_org, require_card_work
from services.waiting import TemporalSource, fill
from services.workflow_calls import DecisionStep, actor_ref, row_remover, run_update, start_workflow
from workflows.card_batch import (
    BatchSummary,
    CardBatchInput,
    CardBatchWorkflow,
    Counts,
    EditMembers,
    EditResult,
    card_batch_workflow_id,
)
from workflows.common import Act, Decision

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BatchCreate(RequestBody):
    channel: CardChannel = CardChannel.NORMAL
    bank_branch: str = Field(min_length=2, max_length=100, description="The bank branch chosen for the batch.")


class MembersEdit(RequestBody):
    member_nos: list[MemberNo] = Field(default_factory=list, max_length=ITEMS_MAX)
    all_without_card: bool = Field(False, description="add every member of the union who has no card")


class Reason(RequestBody):
    reason: Annotated[str | None, MULTILINE] = Field(None, max_length=300)


class RevocationRequest(RequestBody):
    applicant_name: str = Field(min_length=2, max_length=60)
    applicant_phone: str = Field(pattern=r"^1[3-9]\d{9}$", max_length=11)
    reason: Annotated[str, MULTILINE] = Field(min_length=1, max_length=300)


class RevocationDecision(RequestBody):
    approve: bool
    reason: Annotated[str, MULTILINE] = Field(min_length=1, max_length=300)
    step: DecisionStep


@dataclass(frozen=True)
class Roster:
    """The bank's detail list of a submitted batch, as a workbook to download."""

    body: bytes
    filename: str
    media_type: str = XLSX


async def open_batch(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, org_code: str, data: BatchCreate
) -> BatchView:
    """Open a card batch (the pending list) for a grassroots union: a clerk of that union."""
    inp, workflow_id = await run_in_threadpool(_open_batch, session, settings, org_code, data, actor)
    await start_workflow(
        session, temporal, CardBatchWorkflow.run, inp, id=workflow_id, task_queue=settings.task_queue,
        undo=row_remover(session, CardBatch, inp.batch_id),
    )  # fmt: skip
    return await run_in_threadpool(fresh_batch_view, session, inp.batch_id, actor)


def _open_batch(
    session: Session, settings: Settings, code: str, data: BatchCreate, actor: Actor
) -> tuple[CardBatchInput, str]:
    """The batch's row, its workflow's input and id (in a worker thread: the event loop never
    waits for the database)."""
    org = get_org(session, code)
    require(actor, org, Role.CLERK)
    require_card_work(org)
    batch = CardBatch(
        org_id=org.id or 0,
        district_code=org.district_code or "",
        channel=data.channel,
        bank_branch=data.bank_branch,
        workflow_id="",
        created_by=actor.user_id,
    )
    session.add(batch)
    session.flush()
    batch.workflow_id = card_batch_workflow_id(batch.id or 0)
    inp = CardBatchInput(batch.id or 0, org.code, org.path, settings.card_feedback_days, org.district_code or "")
    workflow_id = batch.workflow_id
    session.commit()
    return inp, workflow_id


async def list_batches(
    *, session: Session, actor: Actor, source: TemporalSource, org_code: str, status: CardBatchStatus | None,
    overdue: bool | None, page: int, size: int,
) -> list[BatchView]:  # fmt: skip
    """Batches of a union (for reviewers, of every union below the organisation), each with what
    its workflow keeps retrying (``waiting``)."""
    rows = await run_in_threadpool(_list_batches, session, actor, org_code, status, overdue, page, size)
    return await fill(source, actor, "card_batch", rows)


def _list_batches(
    session: Session, actor: Actor, code: str, status: CardBatchStatus | None, overdue: bool | None, page: int,
    size: int,
) -> list[tuple[BatchView, str, str]]:  # fmt: skip
    org = get_org(session, code)
    require(actor, org)
    below = select(Organisation.id).where(col(Organisation.path).startswith(org.path))
    query = select(CardBatch).where(col(CardBatch.org_id).in_(below))
    if status:
        query = query.where(CardBatch.status == status)
    if overdue is not None:
        query = query.where(CardBatch.overdue == overdue)
    batches = session.exec(query.order_by(col(CardBatch.id).desc()).offset((page - 1) * size).limit(size)).all()
    orgs = {
        o.id: o for o in session.exec(select(Organisation).where(col(Organisation.id).in_({b.org_id for b in batches})))
    }
    return [(batch_view(session, b, orgs[b.org_id], actor), b.workflow_id, b.status.value) for b in batches]


async def read_batch(*, session: Session, actor: Actor, source: TemporalSource, batch_id: int) -> BatchView:
    """A batch in the actor's scope, with what its workflow keeps retrying (``waiting``)."""
    view, workflow_id = await run_in_threadpool(_read_batch, session, batch_id, actor)
    return (await fill(source, actor, "card_batch", [(view, workflow_id, view.status.value)]))[0]


def _read_batch(session: Session, batch_id: int, actor: Actor) -> tuple[BatchView, str]:
    batch, org = load_batch(session, batch_id, actor)
    return batch_view(session, batch, org, actor), batch.workflow_id


def batch_members(
    *, session: Session, actor: Actor, batch_id: int, check: str | None, page: int, size: int
) -> list[BatchMemberView]:
    """A page of a batch's members with their check results and bank outcomes."""
    load_batch(session, batch_id, actor)
    return batch_member_views(session, batch_id, check, page, size)


async def edit_batch(
    *, session: Session, temporal: Client, settings: Settings, actor: Actor, batch: CardBatch, kind: str,
    member_nos: list[str],
) -> EditResult:  # fmt: skip
    """Stage the edit (add, add_all, remove, remove_failed, recheck) in the database and run it in
    the workflow, which gets the staged request's id (never the member list)."""

    def stage() -> tuple[int, str]:  # in a worker thread: the event loop never waits for the database
        request = CardBatchRequest(batch_id=batch.id or 0, kind=kind, member_nos=member_nos, created_by=actor.user_id)
        session.add(request)
        session.flush()
        staged = (request.id or 0, batch.workflow_id)
        session.commit()
        return staged

    request_id, workflow_id = await run_in_threadpool(stage)
    result: EditResult = await run_update(
        temporal,
        workflow_id,
        CardBatchWorkflow.edit_members,
        EditMembers(actor_ref(actor), request_id),
        rpc_seconds=settings.update_timeout_seconds,
        result_type=EditResult,
    )
    return result


async def recheck_open_batch(
    *, session: Session, temporal: Client, settings: Settings, actor: Actor, member_no: str
) -> None:
    """A corrected member sends their validated, not yet submitted batch back to pending."""

    def validated_batch() -> CardBatch | None:  # in a worker thread
        return session.exec(
            select(CardBatch)
            .join(CardBatchMember, col(CardBatchMember.batch_id) == col(CardBatch.id))
            .where(CardBatchMember.member_no == member_no, col(CardBatch.status) == CardBatchStatus.VALIDATED)
        ).first()

    batch = await run_in_threadpool(validated_batch)
    if batch is not None:
        await edit_batch(
            session=session, temporal=temporal, settings=settings, actor=actor, batch=batch, kind="recheck",
            member_nos=[],
        )  # fmt: skip


async def _edit(
    session: Session, temporal: Client, settings: Settings, actor: Actor, batch_id: int, kind: str,
    member_nos: list[str],
) -> BatchView:  # fmt: skip
    batch, _ = await run_in_threadpool(load_batch, session, batch_id, actor)
    result = await edit_batch(
        session=session, temporal=temporal, settings=settings, actor=actor, batch=batch, kind=kind,
        member_nos=member_nos,
    )  # fmt: skip
    if result.refused:
        raise Conflict(
            "members_unavailable",
            "以下会员不能加入：不属于本单位、已在其他批次中或已有卡：" + "、".join(result.refused[:50]),
            details={"member_nos": result.refused},
        )
    return await run_in_threadpool(fresh_batch_view, session, batch_id, actor)


async def add_members(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int, data: MembersEdit
) -> BatchView:
    """Add chosen members, or every member without a card, to the pending list."""
    if not data.member_nos and not data.all_without_card:
        raise Invalid("members_required", "请选择会员，或选择全部未办卡会员")
    kind = "add_all" if data.all_without_card else "add"
    return await _edit(session, temporal, settings, actor, batch_id, kind, data.member_nos)


async def remove_members(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int, data: MembersEdit
) -> BatchView:
    """Take chosen members off the pending list."""
    if not data.member_nos:
        raise Invalid("members_required", "请选择要移除的会员")
    return await _edit(session, temporal, settings, actor, batch_id, "remove", data.member_nos)


async def remove_failed(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int
) -> BatchView:
    """Remove every member who failed the check (they must go before submission)."""
    return await _edit(session, temporal, settings, actor, batch_id, "remove_failed", [])


async def _act(
    session: Session, temporal: Client, settings: Settings, actor: Actor, batch_id: int, update: Any, arg: Any,
    result_type: Any,
) -> BatchView:  # fmt: skip
    """Run one of the workflow's updates on a batch in the actor's scope; the batch as it is then."""
    batch, _ = await run_in_threadpool(load_batch, session, batch_id, actor)
    await run_update(
        temporal, batch.workflow_id, update, arg, rpc_seconds=settings.update_timeout_seconds,
        result_type=result_type, session=session,
    )  # fmt: skip
    return await run_in_threadpool(fresh_batch_view, session, batch_id, actor)


async def validate(*, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int) -> BatchView:
    """System validation of every member (retired, deceased, ID expiry, special channel)."""
    arg = Act(actor_ref(actor))
    return await _act(session, temporal, settings, actor, batch_id, CardBatchWorkflow.validate, arg, Counts)


async def submit(*, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int) -> BatchView:
    """Submit a batch whose members all passed: it gets its batch number and goes to the bank."""
    arg = Act(actor_ref(actor))
    return await _act(session, temporal, settings, actor, batch_id, CardBatchWorkflow.submit, arg, BatchSummary)


async def cancel(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int, data: Reason
) -> BatchView:
    """Cancel a batch not yet submitted."""
    arg = Act(actor_ref(actor), data.reason)
    return await _act(session, temporal, settings, actor, batch_id, CardBatchWorkflow.cancel, arg, BatchSummary)


async def request_revocation(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int, data: RevocationRequest
) -> BatchView:
    """Ask the district to revoke a submitted batch (refused once the bank has issued cards); the
    applicant is recorded once the workflow has taken the request."""
    update, arg = CardBatchWorkflow.request_revocation, Act(actor_ref(actor), data.reason)
    await _act(session, temporal, settings, actor, batch_id, update, arg, BatchSummary)
    return await run_in_threadpool(_record_applicant, session, batch_id, data, actor)


def _record_applicant(session: Session, batch_id: int, data: RevocationRequest, actor: Actor) -> BatchView:
    batch = session.get(CardBatch, batch_id)
    assert batch is not None  # the workflow has just taken the request
    batch.revocation_applicant, batch.revocation_phone = data.applicant_name, data.applicant_phone
    session.add(batch)
    session.commit()
    return fresh_batch_view(session, batch_id, actor)


async def decide_revocation(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int, data: RevocationDecision
) -> BatchView:
    """A reviewer of the batch's district (or above) approves (members released) or rejects."""
    update, arg = CardBatchWorkflow.decide_revocation, Decision(actor_ref(actor), data.approve, data.reason, data.step)
    return await _act(session, temporal, settings, actor, batch_id, update, arg, BatchSummary)


async def resend(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, batch_id: int, data: Reason
) -> BatchView:
    """Admin: send a submitted batch to the bank again (the bank deduplicates by batch number)."""
    arg = Act(actor_ref(actor), data.reason)
    return await _act(session, temporal, settings, actor, batch_id, CardBatchWorkflow.resend, arg, BatchSummary)


def roster(*, session: Session, actor: Actor, batch_id: int) -> Roster:
    """The bank's detail list (批量办理借记卡明细清单) with full data, for the batch's own clerks and
    reviewers only; every download is audited."""
    batch, org = load_batch(session, batch_id, actor)
    if actor.role is Role.CENTER_REVIEWER:
        raise Conflict("roster_not_for_role", "清册仅供本批次的经办人和审核人下载")
    if batch.batch_no is None:
        raise Conflict("not_submitted", "批次提交后才有清册")
    members = session.exec(
        select(Member)
        .join(CardBatchMember, col(CardBatchMember.member_no) == col(Member.member_no))
        .where(CardBatchMember.batch_id == batch_id, col(CardBatchMember.check) == "passed")
        .order_by(col(Member.member_no))
    ).all()
    body = roster_xlsx(batch.batch_no, org.name, batch.bank_branch, members)
    audit_action(  # like ?reveal=true: the list carries full ID numbers and phones
        session, actor, "card_batch.roster_downloaded", ("card_batch", batch_id),
        f"下载清册（{len(members)}人，含完整证件号码和手机号码）", org_id=org.id,
    )  # fmt: skip
    session.commit()
    return Roster(body, f"roster-{batch.batch_no}.xlsx")
