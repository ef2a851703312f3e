"""Cards: one card, a union's cards, loss reports (挂失) and replacements (补卡)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.audit import audit_action
from core.auth import Actor, require
from core.errors import Conflict, NotFound, Unavailable
from core.settings import Settings
from models.card_batch import Card
from models.card_lifecycle import CardLoss
from models.inputs import MULTILINE, RequestBody
from models.member import Member
from models.org import Organisation
from models.states import VALID_CARD_STATUSES, CardLossStatus, CardStatus, Role, label
from services.orgs import get_org
from services.workflow_calls import actor_ref, run_update
from workflows.card_loss import CardLossInput, CardLossSummary, CardLossWorkflow, card_loss_workflow_id
from workflows.common import Act


class LossReport(RequestBody):
    replace: bool = Field(False, description="ask the bank for a replacement card right away")


class ReplacementRequest(RequestBody):
    reason: Annotated[str | None, MULTILINE] = Field(None, max_length=300)


class LossView(BaseModel):
    status: CardLossStatus
    new_card_no: str | None
    reported_at: datetime


class CardView(BaseModel):
    card_no: str
    member_no: str
    org_code: str
    status: CardStatus
    current: bool = Field(description="the member's current card (payouts go to it)")
    replaced_by: str | None
    issued_at: datetime
    loss: LossView | None
    actions: list[str]


def _load(session: Session, card_no: str, actor: Actor, *roles: Role) -> tuple[Card, Member, Organisation]:
    """A card in the actor's scope (with one of ``roles`` when given), its member and union."""
    row = session.exec(
        select(Card, Member, Organisation)
        .join(Member, col(Member.member_no) == col(Card.member_no))
        .join(Organisation, col(Organisation.id) == col(Member.org_id))
        .where(Card.card_no == card_no)
    ).first()
    if row is None:
        raise NotFound("card_not_found", f"卡号 {card_no} 不存在")
    require(actor, row[2], *roles)
    return row


def _view(session: Session, card: Card, member: Member, org: Organisation, actor: Actor) -> CardView:
    return card_view(card, member, org, actor, session.get(CardLoss, card.card_no))


def card_view(card: Card, member: Member, org: Organisation, actor: Actor, loss: CardLoss | None) -> CardView:
    """A card as ``actor`` sees it: what the member's union's clerk (or an admin) may do now."""
    acts = actor.is_admin or (actor.role is Role.CLERK and actor.org_id == org.id)
    actions: list[str] = []
    if acts and card.status.value in VALID_CARD_STATUSES:
        actions.append("report_loss")
    if acts and loss is not None and loss.status is CardLossStatus.LOST:
        actions.append("request_replacement")
    return CardView(
        card_no=card.card_no,
        member_no=card.member_no,
        org_code=org.code,
        status=card.status,
        current=member.card_no == card.card_no,
        replaced_by=card.replaced_by,
        issued_at=card.issued_at,
        loss=LossView(status=loss.status, new_card_no=loss.new_card_no, reported_at=loss.reported_at) if loss else None,
        actions=actions,
    )


def read_card(*, session: Session, actor: Actor, card_no: str) -> CardView:
    """A card's status and member, its loss and replacement, and what the actor may do now."""
    return _view(session, *_load(session, card_no, actor), actor)


def list_cards(
    *, session: Session, actor: Actor, org_code: str, status: CardStatus | None, page: int, size: int
) -> list[CardView]:
    """Cards of a union's members (replaced ones too), by card number."""
    org = get_org(session, org_code)
    require(actor, org)
    query = select(Card, Member).join(Member, col(Member.member_no) == col(Card.member_no))
    query = query.where(Member.org_id == org.id)
    if status:
        query = query.where(Card.status == status)
    rows = session.exec(query.order_by(col(Card.card_no)).offset((page - 1) * size).limit(size)).all()
    numbers = [card.card_no for card, _ in rows]
    losses = {x.card_no: x for x in session.exec(select(CardLoss).where(col(CardLoss.card_no).in_(numbers)))}
    return [card_view(card, member, org, actor, losses.get(card.card_no)) for card, member in rows]


async def _start_loss(temporal: Client, settings: Settings, inp: CardLossInput) -> None:
    try:
        await temporal.start_workflow(
            CardLossWorkflow.run,
            inp,
            id=card_loss_workflow_id(inp.card_no),
            task_queue=settings.task_queue,
        )
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as exc:  # recorded as lost: reporting it again starts the workflow
        raise Unavailable("temporal_unavailable", "挂失已登记，通知银行暂时失败，请再次提交挂失") from exc


async def report_loss(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, card_no: str, data: LossReport
) -> CardView:
    """The member's union reports the card lost: the card is no longer valid, the bank blocks it
    (payouts to it fail), and with ``replace`` a new card is asked for at once. A report of a card
    already lost starts its workflow if it had not started, and is answered 409."""
    inp, before = await run_in_threadpool(_record_loss, session, card_no, data, actor)
    already_lost = before is None
    try:
        await _start_loss(temporal, settings, inp)  # for a card already lost: a report whose workflow did not start
    except Unavailable:
        if already_lost:
            raise
        await run_in_threadpool(_withdraw_loss, session, card_no, str(before), actor)  # no loss without its workflow
        raise Unavailable("temporal_unavailable", "工作流服务暂时不可用，挂失未登记，请稍后再试") from None
    if already_lost:
        raise Conflict("card_already_lost", f"卡号 {card_no} 已挂失")
    return await run_in_threadpool(_fresh, session, card_no, actor)


def _record_loss(session: Session, card_no: str, data: LossReport, actor: Actor) -> tuple[CardLossInput, str | None]:
    """Record the loss (in a worker thread: the event loop never waits for the database); the
    card's status before it, None when the card was recorded as lost already."""
    card, member, org = _load(session, card_no, actor, Role.CLERK)
    inp = CardLossInput(card_no, org.code, org.path, org.district_code or "", actor_ref(actor), data.replace)
    if card.status is CardStatus.LOST:
        return inp, None
    if card.status.value not in VALID_CARD_STATUSES:
        raise Conflict("card_not_valid", f"卡号 {card_no} 当前状态为“{label(card.status)}”，不能挂失")
    before = card.status.value
    card.status = CardStatus.LOST
    session.add(card)
    if member.card_no == card.card_no:
        member.card_status = CardStatus.LOST
        session.add(member)
    session.add(
        CardLoss(
            card_no=card_no,
            member_no=member.member_no,
            org_id=org.id or 0,
            workflow_id=card_loss_workflow_id(card_no),
            reported_by=actor.user_id,
        )
    )
    summary = "挂失并申请补卡" if data.replace else "挂失"
    audit_action(
        session, actor, "card_loss.report", ("card_loss", card_no), summary, org_id=org.id, states=(before, "lost")
    )
    try:
        session.commit()
    except IntegrityError:  # reported at the same moment by someone else
        raise Conflict("card_already_lost", f"卡号 {card_no} 已挂失") from None
    return inp, before


def _withdraw_loss(session: Session, card_no: str, before: str, actor: Actor) -> None:
    """Undo a loss report whose workflow could not start: the card is as it was."""
    session.rollback()
    card, member, org = _load(session, card_no, actor)
    card.status = CardStatus(before)
    session.add(card)
    if member.card_no == card.card_no:
        member.card_status = CardStatus(before)
        session.add(member)
    loss = session.get(CardLoss, card_no)
    if loss is not None:
        session.delete(loss)
    audit_action(
        session, actor, "card_loss.withdrawn", ("card_loss", card_no), "挂失未生效：工作流服务不可用", org_id=org.id,
        states=("lost", before),
    )  # fmt: skip
    session.commit()


def _fresh(session: Session, card_no: str, actor: Actor) -> CardView:
    session.expire_all()
    return _view(session, *_load(session, card_no, actor), actor)


async def request_replacement(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, card_no: str, data: ReplacementRequest
) -> CardView:
    """Ask the bank for a new card for a lost one; the new number arrives by the bank's callback."""
    workflow_id = await run_in_threadpool(_replaceable, session, card_no, actor)
    await run_update(
        temporal,
        workflow_id,
        CardLossWorkflow.request_replacement,
        Act(actor_ref(actor), data.reason),
        rpc_seconds=settings.update_timeout_seconds,
        result_type=CardLossSummary,
        session=session,
    )
    return await run_in_threadpool(_fresh, session, card_no, actor)


def _replaceable(session: Session, card_no: str, actor: Actor) -> str:
    """The loss workflow of a card reported lost and not replaced yet."""
    _load(session, card_no, actor, Role.CLERK)
    loss = session.get(CardLoss, card_no)
    if loss is None:
        raise Conflict("card_not_lost", f"卡号 {card_no} 未挂失，请先挂失")
    if loss.status is not CardLossStatus.LOST:
        raise Conflict("replacement_already_requested", f"卡号 {card_no} 已申请补卡")
    return loss.workflow_id
