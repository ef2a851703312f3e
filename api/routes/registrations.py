"""Yearly card registration (年度注册): a union's registration, registering cards, and the admin's
opener that creates every union's registration for a year (the yearly schedule does it too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import AdminActor, CurrentActor, SessionDep, SettingsDep, TemporalDep
from models.inputs import YEAR_MAX, YEAR_MIN
from services import registrations
from services.registrations import OpenerStarted, RegisterOutcome, RegisterRequest, RegistrationView

router = APIRouter(tags=["registrations"])
Year = Annotated[int, Path(ge=YEAR_MIN, le=YEAR_MAX)]


@router.get("/orgs/{code}/registrations/{year}")
def read_registration(code: str, session: SessionDep, actor: CurrentActor, year: Year) -> RegistrationView:
    """The union's registration for the year: window, status, counts, actions, history."""
    return registrations.read_registration(session=session, actor=actor, org_code=code, year=year)


@router.post("/orgs/{code}/registrations/{year}")
async def register_cards(
    code: str,
    data: RegisterRequest,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
    year: Year,
) -> RegisterOutcome:
    """Register chosen cards (``card_nos``) or every card of the union (``all``) for the year,
    while the window is open. All or nothing: a card that is unknown, of another union, lost or
    replaced is named (409 ``cards_unavailable``) and nothing is registered."""
    return await registrations.register_cards(
        session=session, actor=actor, temporal=temporal, settings=settings, org_code=code, year=year, data=data
    )


@router.post("/programme-years/{year}/registration/open", status_code=status.HTTP_202_ACCEPTED)
async def open_registrations(
    actor: AdminActor, settings: SettingsDep, temporal: TemporalDep, year: Year
) -> OpenerStarted:
    """Admin: create every card-work union's registration for the year now (the schedule
    ``registration-yearly`` does it on 1 April). Safe to repeat: existing ones are kept, unions
    added since get theirs, a window already over is not opened."""
    return await registrations.open_registrations(actor=actor, temporal=temporal, settings=settings, year=year)
