"""A corrected member sends their open, not yet submitted card batch back to pending."""

from __future__ import annotations

from sqlmodel import Session, col, select
from temporalio.client import Client

from api.workflow_calls import actor_ref, run_update
from core.auth import Actor
from core.settings import Settings
from models.card_batch import CardBatch, CardBatchMember, CardBatchRequest
from models.states import CardBatchStatus
from workflows.card_batch import CardBatchWorkflow, EditMembers, EditResult


async def recheck_open_batch(
    session: Session, temporal: Client, settings: Settings, actor: Actor, member_no: str
) -> None:
    batch = session.exec(
        select(CardBatch)
        .join(CardBatchMember, col(CardBatchMember.batch_id) == col(CardBatch.id))
        .where(CardBatchMember.member_no == member_no, col(CardBatch.status) == CardBatchStatus.VALIDATED)
    ).first()
    if batch is None:
        return
    request = CardBatchRequest(batch_id=batch.id or 0, kind="recheck", member_nos=[], created_by=actor.user_id)
    session.add(request)
    session.commit()
    await run_update(
        temporal,
        batch.workflow_id,
        CardBatchWorkflow.edit_members,
        EditMembers(actor_ref(actor), request.id or 0),
        rpc_seconds=settings.update_timeout_seconds,
        result_type=EditResult,
    )
