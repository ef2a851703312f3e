"""Cards and yearly registrations through the services, without HTTP: who sees a card and who
reports it lost (a clerk of the member's union), the loss rules (a valid card only, once, a
replacement only for a lost card), who sees and registers a union's registration, and the
admin's opener."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.client import Client

from bank_sim.app import Bank
from core.auth import Actor
from core.errors import AppError
from core.settings import Settings
from models.card_batch import Card
from models.card_lifecycle import Registration
from models.member import Member
from models.org import Organisation
from models.states import CardLossStatus, CardStatus, Gender, IdType, RegistrationStatus
from services import cards, registrations
from services.cards import LossReport, ReplacementRequest
from services.registrations import RegisterRequest
from services.sessions import actor_for_token
from tests.services.test_card_batches import ACTORS, ORG, SEES, outcome

CLERK = "clerk@101-0001"


@pytest.fixture
def actors(session: Session, tokens: dict[str, str]) -> dict[str, Actor]:
    return {key: actor_for_token(session, tokens[key]) for key in ACTORS}


def carded_member(session: Session, status: CardStatus = CardStatus.ISSUED) -> str:
    """A member of the union with a card in ``status`` (as a finished batch leaves one); its number."""
    org = session.exec(select(Organisation).where(Organisation.code == ORG)).one()
    digits = str(uuid.uuid4().int)
    member_no, card_no = f"1019{digits[:6]}", f"62228877{digits[6:17]}"
    session.add(
        Member(
            member_no=member_no, org_id=org.id or 0, district_code="101", name="测试会员", id_type=IdType.PASSPORT,
            id_number=f"T{digits[:17]}", gender=Gender.FEMALE, phone=f"199{digits[-8:]}",
            work_address="黄浦区测试路1号", card_no=card_no, card_status=status,
        )
    )  # fmt: skip
    session.flush()
    session.add(Card(card_no=card_no, member_no=member_no, status=status))
    session.commit()
    return card_no


def code_of(call: Callable[[], Any]) -> str:
    try:
        call()
    except AppError as exc:
        return exc.code
    return "ok"


def test_who_sees_a_card_and_a_unions_cards(session: Session, actors: dict[str, Actor]) -> None:
    card_no = carded_member(session)
    for key in ACTORS:
        expected = "ok" if key in SEES else "outside_scope"
        seen = code_of(lambda key=key: cards.read_card(session=session, actor=actors[key], card_no=card_no))  # type: ignore[misc]
        listed = code_of(
            lambda key=key: cards.list_cards(  # type: ignore[misc]
                session=session, actor=actors[key], org_code=ORG, status=None, page=1, size=10
            )
        )
        assert (key, seen, listed) == (key, expected, expected)
    view = cards.read_card(session=session, actor=actors[CLERK], card_no=card_no)
    assert (view.status, view.current, view.actions) == (CardStatus.ISSUED, True, ["report_loss"])
    assert cards.read_card(session=session, actor=actors["reviewer@101"], card_no=card_no).actions == []
    assert code_of(lambda: cards.read_card(session=session, actor=actors[CLERK], card_no="0" * 19)) == "card_not_found"
    issued = cards.list_cards(
        session=session, actor=actors[CLERK], org_code=ORG, status=CardStatus.ISSUED, page=1, size=1000
    )
    assert card_no in {c.card_no for c in issued} and {c.status for c in issued} == {CardStatus.ISSUED}


async def test_a_loss_is_reported_once_by_the_members_union_and_only_for_a_valid_card(
    session: Session, actors: dict[str, Actor], temporal_client: Client, settings: Settings, worker: None, bank: Bank
) -> None:
    card_no = carded_member(session)
    common: dict[str, Any] = {"session": session, "temporal": temporal_client, "settings": settings}

    async def report(key: str, number: str = card_no) -> str:
        return await outcome(lambda: cards.report_loss(**common, actor=actors[key], card_no=number, data=LossReport()))

    async def replace(key: str, number: str = card_no) -> str:
        return await outcome(
            lambda: cards.request_replacement(**common, actor=actors[key], card_no=number, data=ReplacementRequest())
        )

    for key in ("center_reviewer@SH", "reviewer@101", "reviewer@101-S01"):
        assert await report(key) == "role_not_allowed"
    assert await report("clerk@104-0001") == "outside_scope"
    assert await replace(CLERK) == "card_not_lost"
    assert await report(CLERK) == "ok"
    session.expire_all()
    view = cards.read_card(session=session, actor=actors[CLERK], card_no=card_no)
    assert view.status is CardStatus.LOST and view.loss is not None and view.loss.status is CardLossStatus.LOST
    assert view.actions == ["request_replacement"]
    assert await report(CLERK) == "card_already_lost"
    assert await report("admin@SH") == "card_already_lost"
    assert await replace("reviewer@101") == "role_not_allowed"

    lapsed = carded_member(session, CardStatus.LAPSED)
    assert await report(CLERK, lapsed) == "card_not_valid"
    session.expire_all()
    assert session.get(Card, lapsed).status is CardStatus.LAPSED  # type: ignore[union-attr]


async def test_who_sees_and_registers_a_unions_registration(
    session: Session, actors: dict[str, Actor], temporal_client: Client, settings: Settings
) -> None:
    org = session.exec(select(Organisation).where(Organisation.code == ORG)).one()
    year = 2095
    known = select(Registration).where(Registration.org_id == org.id, Registration.year == year)
    if session.exec(known).first() is None:
        session.add(
            Registration(
                org_id=org.id or 0, year=year, status=RegistrationStatus.OPEN, opens_on=f"{year}-05-01",
                closes_on=f"{year}-06-30", workflow_id=f"registration-{ORG}-{year}",
            )
        )  # fmt: skip
        session.commit()
    for key in ACTORS:
        expected = "ok" if key in SEES else "outside_scope"
        seen = code_of(
            lambda key=key: registrations.read_registration(  # type: ignore[misc]
                session=session, actor=actors[key], org_code=ORG, year=year
            )
        )
        assert (key, seen) == (key, expected)
    view = registrations.read_registration(session=session, actor=actors[CLERK], org_code=ORG, year=year)
    assert (view.status, view.actions) == (RegistrationStatus.OPEN, ["register"])
    missing = code_of(
        lambda: registrations.read_registration(session=session, actor=actors[CLERK], org_code=ORG, year=year + 1)
    )
    assert missing == "registration_not_found"

    async def register(key: str, data: RegisterRequest) -> str:
        return await outcome(
            lambda: registrations.register_cards(
                session=session,
                actor=actors[key],
                temporal=temporal_client,
                settings=settings,
                org_code=ORG,
                year=year,
                data=data,
            )
        )

    everything = RegisterRequest.model_validate({"all": True})
    assert await register("reviewer@101", everything) == "role_not_allowed"
    assert await register("center_reviewer@SH", everything) == "role_not_allowed"
    assert await register("clerk@104-0001", everything) == "outside_scope"
    assert await register(CLERK, RegisterRequest()) == "cards_required"  # nothing chosen: nothing staged

    for key in ACTORS:
        if key == "admin@SH":
            continue
        opened = await outcome(
            lambda key=key: registrations.open_registrations(  # type: ignore[misc]
                actor=actors[key], temporal=temporal_client, settings=settings, year=year
            )
        )
        assert (key, opened) == (key, "role_not_allowed")
