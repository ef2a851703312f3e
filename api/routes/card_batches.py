"""Card batches: the pending list, validation, submission, revocation, the roster."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlmodel import Session, col, select

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep, temporal_source
from api.routes.batch_edits import edit_batch
from api.routes.members import XLSX
from core.audit import audit_action
from core.auth import Actor, require
from core.errors import Conflict, Invalid
from core.settings import Settings
from documents.workbooks import roster_xlsx
from models.card_batch import CardBatch, CardBatchMember
from models.inputs import ITEMS_MAX, MULTILINE, PAGE_MAX, MemberNo, RequestBody
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
from services.waiting import fill
from services.workflow_calls import DecisionStep, actor_ref, row_remover, run_update, start_workflow
from workflows.card_batch import BatchSummary, CardBatchInput, CardBatchWorkflow, Counts, card_batch_workflow_id
from workflows.common import Act, Decision

router = APIRouter(tags=["card batches"])


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


@router.post("/orgs/{code}/card-batches", status_code=status.HTTP_201_CREATED)
async def create_batch(
    code: str, data: BatchCreate, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Open a card batch (the pending list) for a grassroots union."""
    inp, workflow_id = await run_in_threadpool(_open_batch, session, settings, code, data, actor)
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


@router.get("/orgs/{code}/card-batches")
async def list_batches(
    code: str,
    request: Request,
    session: SessionDep,
    actor: CurrentActor,
    status: CardBatchStatus | None = None,
    overdue: bool | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(50, ge=1, le=500),
) -> list[BatchView]:
    """Batches of a union (or, for reviewers, of every union below the organisation), each with
    what its workflow keeps retrying (``waiting``)."""
    rows = await run_in_threadpool(_list_batches, session, actor, code, status, overdue, page, size)
    return await fill(temporal_source(request), actor, "card_batch", rows)


def _list_batches(
    session: Session, actor: Actor, code: str, status: CardBatchStatus | None, overdue: bool | None, page: int,
    size: int,
) -> list[tuple[BatchView, str, str]]:
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


@router.get("/card-batches/{batch_id}")
async def read_batch(batch_id: int, request: Request, session: SessionDep, actor: CurrentActor) -> BatchView:
    """Status, counts, the actions the caller may take now, the history, and (``waiting``) what
    its workflow keeps retrying, e.g. a submission the bank does not accept yet."""
    view, workflow_id = await run_in_threadpool(_read_batch, session, batch_id, actor)
    return (await fill(temporal_source(request), actor, "card_batch", [(view, workflow_id, view.status.value)]))[0]


def _read_batch(session: Session, batch_id: int, actor: Actor) -> tuple[BatchView, str]:
    batch, org = load_batch(session, batch_id, actor)
    return batch_view(session, batch, org, actor), batch.workflow_id


@router.get("/card-batches/{batch_id}/members")
def batch_members(
    batch_id: int,
    session: SessionDep,
    actor: CurrentActor,
    check: str | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(100, ge=1, le=1000),
) -> list[BatchMemberView]:
    """Members of the batch with their check results and bank outcomes."""
    load_batch(session, batch_id, actor)
    return batch_member_views(session, batch_id, check, page, size)


async def _edit(
    session: Session, temporal: Any, settings: Settings, actor: Actor, batch_id: int, kind: str, member_nos: list[str]
) -> BatchView:
    # the event loop never waits for the database
    batch, _ = await run_in_threadpool(load_batch, session, batch_id, actor)
    result = await edit_batch(session, temporal, settings, actor, batch, kind, member_nos)
    if result.refused:
        raise Conflict(
            "members_unavailable",
            "以下会员不能加入：不属于本单位、已在其他批次中或已有卡：" + "、".join(result.refused[:50]),
            details={"member_nos": result.refused},
        )
    return await run_in_threadpool(fresh_batch_view, session, batch_id, actor)


@router.post("/card-batches/{batch_id}/members")
async def add_members(
    batch_id: int,
    data: MembersEdit,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    """Add chosen members, or every member without a card, to the pending list."""
    if not data.member_nos and not data.all_without_card:
        raise Invalid("members_required", "请选择会员，或选择全部未办卡会员")
    kind = "add_all" if data.all_without_card else "add"
    return await _edit(session, temporal, settings, actor, batch_id, kind, data.member_nos)


@router.post("/card-batches/{batch_id}/members/remove")
async def remove_members(
    batch_id: int,
    data: MembersEdit,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    if not data.member_nos:
        raise Invalid("members_required", "请选择要移除的会员")
    return await _edit(session, temporal, settings, actor, batch_id, "remove", data.member_nos)


@router.post("/card-batches/{batch_id}/members/remove-failed")
async def remove_failed(
    batch_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Remove every member who failed the check (they must go before submission)."""
    return await _edit(session, temporal, settings, actor, batch_id, "remove_failed", [])


async def _act(
    session: Session,
    temporal: Any,
    settings: Settings,
    actor: Actor,
    batch_id: int,
    update: Any,
    arg: Any,
    result_type: Any,
) -> BatchView:
    # the event loop never waits for the database
    batch, _ = await run_in_threadpool(load_batch, session, batch_id, actor)
    await run_update(
        temporal,
        batch.workflow_id,
        update,
        arg,
        rpc_seconds=settings.update_timeout_seconds,
        result_type=result_type,
        session=session,
    )
    return await run_in_threadpool(fresh_batch_view, session, batch_id, actor)


@router.post("/card-batches/{batch_id}/validate")
async def validate_batch(
    batch_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """System validation of every member (retired, deceased, ID expiry, special channel)."""
    return await _act(
        session, temporal, settings, actor, batch_id, CardBatchWorkflow.validate, Act(actor_ref(actor)), Counts
    )


@router.post("/card-batches/{batch_id}/submit")
async def submit_batch(
    batch_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Submit a batch whose members all passed: it gets its batch number and goes to the bank."""
    return await _act(
        session, temporal, settings, actor, batch_id, CardBatchWorkflow.submit, Act(actor_ref(actor)), BatchSummary
    )


@router.post("/card-batches/{batch_id}/cancel")
async def cancel_batch(
    batch_id: int, data: Reason, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    return await _act(
        session,
        temporal,
        settings,
        actor,
        batch_id,
        CardBatchWorkflow.cancel,
        Act(actor_ref(actor), data.reason),
        BatchSummary,
    )


@router.post("/card-batches/{batch_id}/revocation")
async def request_revocation(
    batch_id: int,
    data: RevocationRequest,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    """Ask the district to revoke a submitted batch (refused once the bank has issued cards)."""
    await _act(
        session,
        temporal,
        settings,
        actor,
        batch_id,
        CardBatchWorkflow.request_revocation,
        Act(actor_ref(actor), data.reason),
        BatchSummary,
    )
    return await run_in_threadpool(_record_applicant, session, batch_id, data, actor)


def _record_applicant(session: Session, batch_id: int, data: RevocationRequest, actor: Actor) -> BatchView:
    batch = session.get(CardBatch, batch_id)
    assert batch is not None  # the workflow has just taken the request
    batch.revocation_applicant, batch.revocation_phone = data.applicant_name, data.applicant_phone
    session.add(batch)
    session.commit()
    return fresh_batch_view(session, batch_id, actor)


@router.post("/card-batches/{batch_id}/revocation/decision")
async def decide_revocation(
    batch_id: int,
    data: RevocationDecision,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    """A reviewer of the batch's district (or above) approves (members released) or rejects."""
    return await _act(
        session,
        temporal,
        settings,
        actor,
        batch_id,
        CardBatchWorkflow.decide_revocation,
        Decision(actor_ref(actor), data.approve, data.reason, data.step),
        BatchSummary,
    )


@router.post("/card-batches/{batch_id}/resend")
async def resend_batch(
    batch_id: int, data: Reason, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Admin: send a submitted batch to the bank again (the bank deduplicates by batch number)."""
    return await _act(
        session,
        temporal,
        settings,
        actor,
        batch_id,
        CardBatchWorkflow.resend,
        Act(actor_ref(actor), data.reason),
        BatchSummary,
    )


@router.get("/card-batches/{batch_id}/roster.xlsx", response_class=Response)
def roster(batch_id: int, session: SessionDep, actor: CurrentActor) -> Response:
    """The bank's detail list (批量办理借记卡明细清单), full data: the batch's own clerks and reviewers only."""
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
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename=roster-{batch.batch_no}.xlsx"}
    )
