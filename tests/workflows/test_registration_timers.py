"""Yearly card registration on the time-skipping server: the window opens, the clerk registers,
the window closes and the unregistered cards lapse; the next year a lapsed card registers again."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.claims import ClaimActivities
from core.db import Database
from core.settings import Settings
from models.programme import DateWindow
from rules.calendar import bounds
from tests.enrollment_setup import carded_members, fresh_union
from tests.workflows.conftest import user
from tests.workflows.recording import record
from workflows.common import ActorRef, Selection
from workflows.dated_inputs import RegistrationInput
from workflows.registration import RegisterResult, RegistrationSummary, RegistrationWorkflow, registration_workflow_id

TZ = "Asia/Shanghai"
Handle = WorkflowHandle[RegistrationWorkflow, RegistrationSummary]


async def start_registration(
    env: WorkflowEnvironment, queue: str, db: Database, code: str, year: int, days: tuple[int, int]
) -> tuple[Handle, DateWindow]:
    """The registration row (as the yearly opener inserts it) and its workflow, the window
    ``days`` after the server's today."""
    today = (await env.get_current_time()).astimezone(ZoneInfo(TZ)).date()
    window = DateWindow(start=today + timedelta(days=days[0]), end=today + timedelta(days=days[1]))
    with db.connect() as conn:
        row = conn.execute(
            """INSERT INTO registrations (org_id, year, status, registered, lapsed, opens_on, closes_on, workflow_id,
                                          updated_at)
               SELECT o.id, %s, 'scheduled', 0, 0, %s, %s, %s, now() FROM organisations o WHERE o.code = %s
               RETURNING id, (SELECT path FROM organisations WHERE code = %s)""",
            (year, window.start.isoformat(), window.end.isoformat(), registration_workflow_id(code, year), code, code),
        ).fetchone()
        conn.commit()
    assert row is not None
    opens_at, closes_at = bounds(window, TZ)
    inp = RegistrationInput(
        row[0], code, row[1], "104", year, opens_at, closes_at, window.start.isoformat(), window.end.isoformat()
    )
    handle = await env.client.start_workflow(
        RegistrationWorkflow.run, inp, id=registration_workflow_id(code, year), task_queue=queue
    )
    return handle, window


def stage(db: Database, clerk: ActorRef, cards: list[str]) -> Selection:
    with db.connect() as conn:
        row = conn.execute(
            """INSERT INTO member_selections (purpose, items, everything, created_by, created_at)
               VALUES ('register', %s::json, false, %s, now()) RETURNING id""",
            (json.dumps(cards), clerk.user_id),
        ).fetchone()
        conn.commit()
    assert row is not None
    return Selection(clerk, int(row[0]))


async def refused(handle: Handle, selection: Selection) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(RegistrationWorkflow.register, selection)
    assert isinstance(caught.value.cause, ApplicationError)
    return caught.value.cause


def statuses(db: Database, cards: list[str]) -> list[tuple[str, str]]:
    """(card status, member's card status) per card, in the given order."""
    with db.connect() as conn:
        found = dict(
            (r[0], (r[1], r[2]))
            for r in conn.execute(
                """SELECT c.card_no, c.status, m.card_status FROM cards c JOIN members m ON m.member_no = c.member_no
                   WHERE c.card_no = ANY(%s)""",
                (cards,),
            )
        )
    return [found[c] for c in cards]


async def status_of(db: Database, handle: Handle, expected: str, seconds: float = 20) -> None:
    """Wait until the workflow is in ``expected`` and has projected it."""
    deadline = time.monotonic() + seconds
    while True:
        with db.connect() as conn:
            row = conn.execute("SELECT status FROM registrations WHERE workflow_id = %s", (handle.id,)).fetchone()
        if row == (expected,) and (await handle.query(RegistrationWorkflow.summary)).status == expected:
            return
        assert time.monotonic() < deadline, (expected, row)
        await asyncio.sleep(0.05)


async def test_a_registration_year_and_the_next(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    tmp_path: Path,
    settings: Settings,
) -> None:
    env, queue = skipping
    code, clerk_token = await fresh_union(api, tokens, "104")
    other, other_token = await fresh_union(api, tokens, "104")
    nos = await carded_members(api, db, clerk_token, code, tmp_path, 4, seed=7301)
    await carded_members(api, db, other_token, other, tmp_path, 2, seed=7302)
    with db.connect() as conn:
        cards = [r[0] for r in conn.execute("SELECT card_no FROM cards WHERE member_no = ANY(%s) ORDER BY 1", (nos,))]
        foreign = [
            r[0] for r in conn.execute(
                "SELECT c.card_no FROM cards c JOIN members m USING (member_no) "
                "JOIN organisations o ON o.id = m.org_id WHERE o.code = %s ORDER BY 1", (other,)
            )
        ]  # fmt: skip
        conn.execute("UPDATE cards SET status = 'lost' WHERE card_no = %s", (cards[3],))  # reported lost
        conn.execute("UPDATE members SET card_status = 'lost' WHERE card_no = %s", (cards[3],))
        conn.commit()
    clerk, stranger = user(db, "clerk", code), user(db, "clerk", other)

    first, window = await start_registration(env, queue, db, code, 2081, (5, 40))
    early = await refused(first, stage(db, clerk, cards[:2]))
    assert early.type == "not_allowed_now" and "尚未开始" in early.message
    assert f"{window.start.isoformat()} 至 {window.end.isoformat()}" in early.message  # the clerk learns the window
    async with asyncio.timeout(60):
        await env.sleep(timedelta(days=6))
    await status_of(db, first, "open")
    assert (await refused(first, stage(db, stranger, cards[:2]))).type == "outside_scope"
    unknown = "6222889999999999999"
    bad = await refused(first, stage(db, clerk, [cards[0], cards[3], foreign[0], unknown]))
    assert bad.type == "cards_unavailable" and bad.details[0]["card_nos"] == sorted([cards[3], foreign[0], unknown])
    assert statuses(db, cards[:1]) == [("issued", "issued")]  # all or nothing
    done: RegisterResult = await first.execute_update(RegistrationWorkflow.register, stage(db, clerk, cards[:2]))
    assert (done.registered, done.registered_members) == (2, 2)
    again = await first.execute_update(RegistrationWorkflow.register, stage(db, clerk, cards[:2]))
    assert again.registered == 0  # registering twice registers nothing twice

    async with asyncio.timeout(60):
        summary = await first.result()  # the window closes (time skips to the timer)
    assert (summary.status, summary.counts.registered, summary.counts.lapsed) == ("closed", 2, 1)
    assert statuses(db, cards) == [
        ("registered", "registered"),
        ("registered", "registered"),
        ("lapsed", "lapsed"),
        ("lost", "lost"),  # a lost card does not lapse
    ]
    assert statuses(db, foreign) == [("issued", "issued")] * 2
    with db.connect() as conn:
        projected = conn.execute("SELECT registered, lapsed FROM registrations WHERE workflow_id = %s", (first.id,))
        assert projected.fetchone() == (2, 1)
        audit = [r[0] for r in conn.execute(
            "SELECT action FROM audit_events WHERE entity_type = 'registration' AND entity_id = "
            "(SELECT id::text FROM registrations WHERE workflow_id = %s) ORDER BY id", (first.id,)
        )]  # fmt: skip
    assert audit == ["registration.open", "registration.register", "registration.register", "registration.close"]
    await record(env.client, first.id, "RegistrationWorkflow--a-year-with-refusals")

    second, second_window = await start_registration(env, queue, db, code, 2082, (330, 360))
    async with asyncio.timeout(60):
        await env.sleep(timedelta(days=331))
    await status_of(db, second, "open")
    back = await second.execute_update(RegistrationWorkflow.register, stage(db, clerk, [cards[2]]))
    assert back.registered == 1 and statuses(db, [cards[2]]) == [("registered", "registered")]
    async with asyncio.timeout(60):
        summary = await second.result()
    assert (summary.counts.registered, summary.counts.lapsed) == (1, 2)
    assert [s[0] for s in statuses(db, cards)] == ["lapsed", "lapsed", "registered", "lost"]
    assert statuses(db, foreign) == [("issued", "issued")] * 2  # another union's cards are never touched
    valid_across_windows(db, settings, [cards[0], cards[2]], window, second_window)


def valid_across_windows(
    db: Database, settings: Settings, cards: list[str], first: DateWindow, second: DateWindow
) -> None:
    """What claims ask of the two windows just run (rules.card_validity): registered in the first
    window, valid until the second closes; lapsed in the first and registered again in the second,
    not valid in between, and not before the second window opened."""
    claims = ClaimActivities(db, settings)
    day = timedelta(days=1)
    with db.connect() as conn:
        rows = [conn.execute("SELECT member_no FROM cards WHERE card_no = %s", (c,)).fetchone() for c in cards]
        nos = [str(r[0]) for r in rows if r is not None]

        def valid(member_no: str, on: date) -> bool:
            return claims._card_reasons(conn, member_no, on) == []

        row = conn.execute("SELECT (issued_at AT TIME ZONE %s)::date FROM cards WHERE member_no = %s", (TZ, nos[0]))
        issued = row.fetchone()[0]  # type: ignore[index]
        assert valid(nos[0], issued) and not valid(nos[0], issued - day)  # not before its issue
        assert valid(nos[0], first.end + day) and valid(nos[0], second.end)
        assert not valid(nos[0], second.end + day)  # registered in the first window only
        assert valid(nos[1], first.end)  # issued after an earlier window: counted until the next one closes
        assert not valid(nos[1], first.end + day) and not valid(nos[1], second.start - day)  # lapsed
        reason = claims._card_reasons(conn, nos[1], second.start - day)
        assert "未注册" in reason[0] and str(second.start - day) in reason[0]
        assert valid(nos[1], second.start) and valid(nos[1], second.end + day)  # from its window's opening
