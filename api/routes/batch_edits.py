"""Member edits of a card batch: the list is staged in the database, the workflow gets its id."""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session, col, select
from temporalio.client import Client

from core.auth import Actor
from core.settings import Settings
from models.card_batch import CardBatch, CardBatchMember, CardBatchRequest
from models.states import CardBatchStatus
from services.workflow_calls import actor_ref, run_update
from workflows.card_batch import CardBatchWorkflow, EditMembers, EditResult


async def edit_batch(
    session: Session,
    temporal: Client,
    settings: Settings,
    actor: Actor,
    batch: CardBatch,
    kind: str,
    member_nos: list[str],
) -> EditResult:
    """Stage the edit (add, add_all, remove, remove_failed, recheck) and run it in the workflow."""

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
    session: Session, temporal: Client, settings: Settings, actor: Actor, member_no: str
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
        await edit_batch(session, temporal, settings, actor, batch, "recheck", [])
