"""Cards: one card, a union's cards, loss reports (挂失) and replacements (补卡)."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep
from models.inputs import PAGE_MAX
from models.states import CardStatus
from services import cards
from services.cards import CardView, LossReport, ReplacementRequest

router = APIRouter(tags=["cards"])


@router.get("/cards/{card_no}")
def read_card(card_no: str, session: SessionDep, actor: CurrentActor) -> CardView:
    """A card's status and member, its loss and replacement, and what the caller may do now."""
    return cards.read_card(session=session, actor=actor, card_no=card_no)


@router.get("/orgs/{code}/cards")
def list_cards(
    code: str,
    session: SessionDep,
    actor: CurrentActor,
    status: CardStatus | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(100, ge=1, le=1000),
) -> list[CardView]:
    """Cards of a union's members (replaced ones too), by card number."""
    return cards.list_cards(session=session, actor=actor, org_code=code, status=status, page=page, size=size)


@router.post("/cards/{card_no}/loss-report", status_code=status.HTTP_201_CREATED)
async def report_loss(
    card_no: str,
    data: LossReport,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> CardView:
    """The member's union reports the card lost: the card is no longer valid, the bank blocks it
    (payouts to it fail), and with ``replace`` a new card is asked for at once."""
    return await cards.report_loss(
        session=session, actor=actor, temporal=temporal, settings=settings, card_no=card_no, data=data
    )


@router.post("/cards/{card_no}/replacement")
async def request_replacement(
    card_no: str,
    data: ReplacementRequest,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> CardView:
    """Ask the bank for a new card for a lost one; the new number arrives by the bank's callback."""
    return await cards.request_replacement(
        session=session, actor=actor, temporal=temporal, settings=settings, card_no=card_no, data=data
    )
