"""Card batches through the service, without HTTP: who may open, see, edit and act on a batch (a
clerk of the union acts, reviewers above it see, others are refused), the member edits' rules,
the roster's rules, and the workflow's refusals as the service answers them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.client import Client

from core.auth import Actor
from core.errors import AppError, Conflict, Forbidden, Invalid
from core.settings import Settings
from models.states import CardBatchStatus
from services import card_batches
from services.card_batches import BatchCreate, MembersEdit, Reason
from services.sessions import actor_for_token
from services.waiting import TemporalSource

ORG = "101-0001"
ACTORS = [
    "admin@SH",
    "center_reviewer@SH",
    "reviewer@101",
    "reviewer@101-S01",
    "clerk@101-0001",
    "clerk@101-S01-0001",
    "clerk@104-0001",
]
SEES = {"admin@SH", "center_reviewer@SH", "reviewer@101", "clerk@101-0001"}  # the union and those above it
OPENS = {"admin@SH", "clerk@101-0001"}


@pytest.fixture
def actors(session: Session, tokens: dict[str, str]) -> dict[str, Actor]:
    return {key: actor_for_token(session, tokens[key]) for key in ACTORS}


def source_of(temporal: Client) -> TemporalSource:
    async def source() -> Client:
        return temporal

    return source


async def outcome(call: Callable[[], Awaitable[Any]]) -> str:
    """``ok``, or the code of the project's error the call raised."""
    try:
        await call()
    except AppError as exc:
        return exc.code
    return "ok"


def sync_outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except AppError as exc:
        return exc.code
    return "ok"


async def test_who_may_open_a_batch_and_on_which_union(
    session: Session, actors: dict[str, Actor], temporal_client: Client, settings: Settings, worker: None
) -> None:
    opened: list[int] = []

    async def open_for(key: str, code: str = ORG) -> None:
        view = await card_batches.open_batch(
            session=session, actor=actors[key], temporal=temporal_client, settings=settings, org_code=code,
            data=BatchCreate(bank_branch="工行人民广场支行"),
        )  # fmt: skip
        assert view.status is CardBatchStatus.PENDING and view.org_code == code
        opened.append(view.id)

    seen = {key: await outcome(lambda key=key: open_for(key)) for key in ACTORS}  # type: ignore[misc]
    assert seen == {
        "admin@SH": "ok",
        "center_reviewer@SH": "role_not_allowed",
        "reviewer@101": "role_not_allowed",
        "reviewer@101-S01": "role_not_allowed",
        "clerk@101-0001": "ok",
        "clerk@101-S01-0001": "outside_scope",
        "clerk@104-0001": "outside_scope",
    }
    assert await outcome(lambda: open_for("admin@SH", "101")) == "not_grassroots"  # a district does no card work
    assert await outcome(lambda: open_for("admin@SH", "104-0002")) == "org_type_unsupported"
    assert await outcome(lambda: open_for("admin@SH", "nowhere")) == "org_not_found"
    clerk = actors["clerk@101-0001"]
    for batch_id in opened:
        await card_batches.cancel(
            session=session, actor=clerk, temporal=temporal_client, settings=settings, batch_id=batch_id,
            data=Reason(reason="测试结束"),
        )  # fmt: skip


async def test_who_sees_a_batch_and_who_acts_on_it(
    session: Session, actors: dict[str, Actor], temporal_client: Client, settings: Settings, worker: None
) -> None:
    clerk = actors["clerk@101-0001"]
    view = await card_batches.open_batch(
        session=session, actor=clerk, temporal=temporal_client, settings=settings, org_code=ORG,
        data=BatchCreate(bank_branch="工行人民广场支行"),
    )  # fmt: skip
    batch_id, source = view.id, source_of(temporal_client)
    assert set(view.actions) >= {"add_members", "remove_members", "validate", "cancel"}

    for key in ACTORS:
        expected = "ok" if key in SEES else "outside_scope"
        read = await outcome(
            lambda key=key: card_batches.read_batch(  # type: ignore[misc]
                session=session, actor=actors[key], source=source, batch_id=batch_id
            )
        )
        members = sync_outcome(
            lambda key=key: card_batches.batch_members(  # type: ignore[misc]
                session=session, actor=actors[key], batch_id=batch_id, check=None, page=1, size=10
            )
        )
        assert (key, read, members) == (key, expected, expected)
        listed = await card_batches.list_batches(
            session=session, actor=actors[key], source=source, org_code="SH" if key == "admin@SH" else ORG,
            status=CardBatchStatus.PENDING, overdue=None, page=1, size=500,
        ) if key in SEES else None  # fmt: skip
        assert listed is None or batch_id in {b.id for b in listed}
    refused = await outcome(
        lambda: card_batches.list_batches(
            session=session,
            actor=actors["clerk@104-0001"],
            source=source,
            org_code=ORG,
            status=None,
            overdue=None,
            page=1,
            size=10,
        )
    )
    assert refused == "outside_scope"
    reviewer_view = await card_batches.read_batch(
        session=session, actor=actors["reviewer@101"], source=source, batch_id=batch_id
    )
    assert reviewer_view.actions == []  # a reviewer sees the batch, the clerk works on it

    async def act(key: str, call: Any, **kw: Any) -> str:
        return await outcome(
            lambda: call(
                session=session,
                actor=actors[key],
                temporal=temporal_client,
                settings=settings,
                batch_id=batch_id,
                **kw,
            )
        )

    # the workflow refuses what the role may not do, before it enters the history
    assert await act("reviewer@101", card_batches.validate) == "role_not_allowed"
    assert await act("clerk@104-0001", card_batches.validate) == "outside_scope"  # never reaches the workflow
    assert await act("clerk@101-0001", card_batches.resend, data=Reason(reason="再发")) == "role_not_allowed"
    assert await act("clerk@101-0001", card_batches.submit) == "not_allowed_now"  # not validated
    assert await act("clerk@101-0001", card_batches.cancel, data=Reason(reason="不办了")) == "ok"
    done = await card_batches.read_batch(session=session, actor=clerk, source=source, batch_id=batch_id)
    assert done.status is CardBatchStatus.CANCELLED and done.actions == []
    assert await act("clerk@101-0001", card_batches.cancel, data=Reason(reason="再取消")) == "workflow_closed"


async def test_member_edits_and_the_roster_follow_their_rules(
    session: Session, actors: dict[str, Actor], temporal_client: Client, settings: Settings, worker: None
) -> None:
    clerk = actors["clerk@101-0001"]
    view = await card_batches.open_batch(
        session=session, actor=clerk, temporal=temporal_client, settings=settings, org_code=ORG,
        data=BatchCreate(bank_branch="工行人民广场支行"),
    )  # fmt: skip
    common: dict[str, Any] = {"session": session, "temporal": temporal_client, "settings": settings}

    with pytest.raises(Invalid) as nothing:  # checked before the batch is even looked up
        await card_batches.add_members(**common, actor=clerk, batch_id=view.id, data=MembersEdit())
    assert nothing.value.code == "members_required"
    with pytest.raises(Invalid):
        await card_batches.remove_members(**common, actor=clerk, batch_id=view.id, data=MembersEdit())
    with pytest.raises(Conflict) as strangers:  # members of no union of ours: named, nothing added
        await card_batches.add_members(
            **common, actor=clerk, batch_id=view.id, data=MembersEdit(member_nos=["1049999999"])
        )
    assert strangers.value.code == "members_unavailable"
    assert strangers.value.details == {"member_nos": ["1049999999"]}
    with pytest.raises(Forbidden):
        await card_batches.add_members(
            **common, actor=actors["clerk@104-0001"], batch_id=view.id, data=MembersEdit(all_without_card=True)
        )

    def roster(key: str) -> str:
        return sync_outcome(lambda: card_batches.roster(session=session, actor=actors[key], batch_id=view.id))

    assert roster("center_reviewer@SH") == "roster_not_for_role"  # full ID numbers: not for the centre
    assert roster("clerk@101-0001") == "not_submitted"
    assert roster("reviewer@101") == "not_submitted"
    assert roster("clerk@104-0001") == "outside_scope"
    assert sync_outcome(lambda: card_batches.roster(session=session, actor=clerk, batch_id=2**31 - 1)) == (
        "batch_not_found"
    )
    await card_batches.cancel(**common, actor=clerk, batch_id=view.id, data=Reason())
