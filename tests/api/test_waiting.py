"""A clerk sees why something waits: a card batch whose bank keeps refusing its submission says
so in its view and in /tasks of its clerk and of the admins (in Chinese, the attempt, the next
attempt's time; the failure's text for admins only), and stops saying it once the bank recovers.
The bank simulator fails for real over HTTP; the worker retries on the Temporal dev server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from bank_sim.app import Bank
from core.db import Database
from core.settings import Settings
from tests.api.helpers import call, decide
from tests.api.test_card_batches import CLERK, member_nos, reset, submitted_batch
from tests.api.test_card_batches import members as members  # the fixture
from tests.api.test_claims import ILLNESS, TODAY, claimant, programme_year
from tests.conftest import auth
from tests.enrollment_setup import (
    ADMIN,
    CENTER,
    DISTRICT,
    SECONDARY,
    carded_members,
    config_around,
    fresh_union,
    put_year,
)

__all__ = ["members", "programme_year"]  # fixtures used here
OTHER_CLERK = "clerk@101-0001"


async def get(api: httpx.AsyncClient, token: str, url: str) -> Any:
    r = await api.get(url, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


async def retrying(api: httpx.AsyncClient, token: str, batch_id: int, seconds: float = 40) -> dict[str, Any]:
    """The batch's view once it says it is retrying, with a next attempt's time."""
    deadline = time.monotonic() + seconds
    while True:
        view: dict[str, Any] = await get(api, token, f"/card-batches/{batch_id}")
        waiting = view["waiting"]
        if waiting and waiting["attempt"] >= 2 and waiting["next_attempt_at"]:
            return view
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.2)


def task_of(tasks: list[dict[str, Any]], batch_id: int) -> dict[str, Any] | None:
    found = [t for t in tasks if t["kind"] == "retrying" and t["entity_type"] == "card_batch"]
    return next((t for t in found if t["entity_id"] == batch_id), None)


async def test_a_batch_the_bank_keeps_refusing_says_it_is_retrying_until_the_bank_recovers(
    api: httpx.AsyncClient,
    live_api: str,
    bank: Bank,
    tokens: dict[str, str],
    db: Database,
    members: list[list[str]],
) -> None:
    clerk, admin = tokens[CLERK], tokens[ADMIN]
    reset(bank, fail_submissions=10_000)  # the bank answers 500 to every submission
    batch = await submitted_batch(api, clerk, (await member_nos(db, members))[:2])
    assert batch["status"] == "submitted"

    view = await retrying(api, clerk, batch["id"])
    waiting = view["waiting"]
    assert view["status"] == "submitted" and waiting["activity"] == "send_batch_to_bank"
    assert waiting["message"] == f"银行暂时无法接收，正在重试（第 {waiting['attempt']} 次）"
    assert waiting["failure"] is None and waiting["paused"] is False  # the clerk never sees the raw error
    assert datetime.fromisoformat(waiting["next_attempt_at"]) > datetime.now(UTC) - timedelta(seconds=30)
    seen = await retrying(api, admin, batch["id"])
    assert "500" in (seen["waiting"]["failure"] or "")  # admins see the decoded failure

    # /tasks: the clerk's and the admins', not another union's clerk's nor a reviewer's.
    task = task_of(await get(api, clerk, "/tasks"), batch["id"])
    assert task is not None, "the clerk's tasks do not say the batch is retrying"
    assert task["link"] == f"/card-batches/{batch['id']}" and task["status"] == "submitted"
    assert "银行暂时无法接收，正在重试（第" in task["summary"] and "下次重试" in task["summary"]
    assert task["waiting"]["attempt"] >= 2 and task["waiting"]["failure"] is None
    admin_task = task_of(await get(api, admin, "/tasks"), batch["id"])
    assert admin_task is not None and "500" in (admin_task["waiting"]["failure"] or "")
    assert task_of(await get(api, tokens[OTHER_CLERK], "/tasks"), batch["id"]) is None
    assert task_of(await get(api, tokens[DISTRICT], "/tasks"), batch["id"]) is None
    listed = await get(api, clerk, f"/orgs/{view['org_code']}/card-batches?status=submitted")
    (row,) = [b for b in listed if b["id"] == batch["id"]]
    assert row["waiting"]["activity"] == "send_batch_to_bank" and row["waiting"]["failure"] is None

    # The bank recovers: the next attempt goes through and the message goes.
    reset(bank)
    deadline = time.monotonic() + 60
    while (view := await get(api, clerk, f"/card-batches/{batch['id']}"))["waiting"] is not None:
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.3)
    assert view["status"] in ("submitted", "bank_feedback", "issued")
    assert task_of(await get(api, clerk, "/tasks"), batch["id"]) is None


async def test_without_temporal_the_view_is_shown_without_waiting(
    settings: Settings,
    db: Database,
    api: httpx.AsyncClient,
    live_api: str,
    bank: Bank,
    tokens: dict[str, str],
    members: list[list[str]],
) -> None:
    clerk = tokens[CLERK]
    reset(bank, hold=True)  # the batch stays submitted: its workflow is described
    batches = [await submitted_batch(api, clerk, (await member_nos(db, members))[:1])]
    away = settings.model_copy(update={"temporal_address": "127.0.0.1:9"})  # nothing listens there
    app = create_app(away, db=db, temporal=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for batch in batches[:3]:
            started = time.monotonic()
            view = await get(client, clerk, f"/card-batches/{batch['id']}")
            assert view["waiting"] is None and time.monotonic() - started < 10
        tasks = await get(client, clerk, "/tasks")
        assert not [t for t in tasks if t["kind"] == "retrying"]
    reset(bank)


async def test_a_claim_whose_payout_the_bank_refuses_says_it_is_retrying(
    api: httpx.AsyncClient, live_api: str, bank: Bank, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    reset(bank)
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6951)
    body = {**ILLNESS, "event_date": (TODAY - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    reset(bank, fail_submissions=10_000)  # the bank answers 500 to the payout
    for token in (grassroots, tokens[SECONDARY], tokens[DISTRICT], tokens[CENTER]):
        claim = await decide(api, token, url, "/review", 200, decision="approve")
    deadline = time.monotonic() + 40
    while not ((waiting := (view := await get(api, clerk, url))["waiting"]) and waiting["next_attempt_at"]):
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.2)
    assert view["status"] == "approved" and waiting["activity"] == "send_payout" and waiting["failure"] is None
    assert waiting["message"] == f"银行暂时无法受理给付付款，正在重试（第 {waiting['attempt']} 次）"
    tasks = [t for t in await get(api, clerk, "/tasks") if t["kind"] == "retrying" and t["entity_type"] == "claim"]
    assert [t["link"] for t in tasks if t["entity_id"] == claim["id"]] == [url]
    listed = await get(api, clerk, f"/orgs/{view['org_code']}/claims?status=approved")
    assert [c["waiting"]["activity"] for c in listed if c["id"] == claim["id"]] == ["send_payout"]
    reset(bank)
    while (view := await get(api, clerk, url))["waiting"] is not None:
        assert time.monotonic() < deadline + 60, view
        await asyncio.sleep(0.3)


async def test_an_enrollment_whose_roster_cannot_be_written_says_it_is_retrying(
    api: httpx.AsyncClient, live_api: str, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    """A roster the database keeps refusing (a serialization failure, which passes) shows the
    clerk and the admins that it is retried, in the view, the union's list and /tasks; once the
    database takes it the roster is built and the waiting goes."""
    year = 2066
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=6353)
    with db.connect() as conn:
        conn.execute(f"""CREATE FUNCTION refuse_roster_{year}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM enrollments e JOIN organisations o ON o.id = e.org_id
                         WHERE e.id = NEW.enrollment_id AND o.code = '{org}') THEN
                RAISE EXCEPTION 'roster refused for the test' USING ERRCODE = '40001';
              END IF;
              RETURN NEW;
            END $$""")  # fmt: skip
        conn.execute(f"""CREATE TRIGGER refuse_roster_{year} BEFORE INSERT ON enrollment_members
                         FOR EACH ROW EXECUTE FUNCTION refuse_roster_{year}()""")  # fmt: skip
        conn.commit()
    try:
        e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
        assert e["status"] == "draft" and e["enrolled"] == 0  # answered while its roster is retried
        url = f"/enrollments/{e['id']}"
        deadline = time.monotonic() + 40
        while not ((waiting := (view := await get(api, clerk, url))["waiting"]) and waiting["next_attempt_at"]):
            assert time.monotonic() < deadline, view
            await asyncio.sleep(0.2)
        assert waiting["activity"] == "build_roster" and waiting["failure"] is None
        assert waiting["message"] == f"参保名单暂时无法生成，正在重试（第 {waiting['attempt']} 次）"
        admin_view = await get(api, tokens[ADMIN], url)
        assert admin_view["waiting"]["failure"] and "roster refused" in admin_view["waiting"]["failure"]
        listed = await get(api, clerk, f"/orgs/{org}/enrollments")
        assert [x["waiting"]["activity"] for x in listed if x["id"] == e["id"]] == ["build_roster"]
        tasks = [t for t in await get(api, clerk, "/tasks") if t["kind"] == "retrying"]
        assert [t["link"] for t in tasks if t["entity_type"] == "enrollment" and t["entity_id"] == e["id"]] == [url]
    finally:
        with db.connect() as conn:
            conn.execute(f"DROP TRIGGER refuse_roster_{year} ON enrollment_members")
            conn.execute(f"DROP FUNCTION refuse_roster_{year}()")
            conn.commit()
    deadline = time.monotonic() + 90
    while (view := await get(api, clerk, url))["waiting"] is not None or view["enrolled"] != 2:
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.3)
    assert view["status"] == "draft"
