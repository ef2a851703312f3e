"""Cards after issue over HTTP: loss report and replacement with the bank simulator calling back,
yearly registration and its admin opener, the yearly schedule on the dev server, bank transfers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from bank_sim.app import Bank, BankConfig
from cli.schedules import REGISTRATION_SCHEDULE, ensure_schedules
from core import search_attributes as search
from core.bank_signing import signed_headers
from core.db import Database
from core.settings import Settings
from documents.fake_members import HEADERS, member_rows, write_csv
from rules.calendar import today
from tests.api.helpers import imported
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, carded_members, config_around, fresh_union, put_year
from tests.workflows.recording import record
from workflows.card_loss import CardLossSummary

TODAY = today("Asia/Shanghai")


async def call(api: httpx.AsyncClient, token: str, method: str, url: str, expect: int, **kw: Any) -> Any:
    r = await api.request(method, url, headers=auth(token), **kw)
    assert r.status_code == expect, r.text
    return r.json()


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 30) -> Any:
    """The first truthy answer of ``check``, polled until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while not (answer := await check()):
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.1)
    return answer


async def issued_cards(api: httpx.AsyncClient, db: Database, token: str, code: str, tmp: Path, seed: int) -> list[str]:
    """Members imported and carded through a real card batch answered by the bank simulator."""
    rows = list(member_rows(4, seed=seed, phone_base=16_000_000_000 + seed * 1000))
    for row in rows:
        row[HEADERS.index("在职状态")], row[HEADERS.index("退休日期")] = "在职", ""
    await imported(api, token, code, write_csv(tmp / f"m-{seed}.csv", rows))
    batch = await call(api, token, "POST", f"/orgs/{code}/card-batches", 201, json={"bank_branch": "工行测试支行"})
    url = f"/card-batches/{batch['id']}"
    await call(api, token, "POST", f"{url}/members", 200, json={"all_without_card": True})
    if (await call(api, token, "POST", f"{url}/validate", 200))["failed"]:
        await call(api, token, "POST", f"{url}/members/remove-failed", 200)
        await call(api, token, "POST", f"{url}/validate", 200)
    await call(api, token, "POST", f"{url}/submit", 200)

    async def issued() -> bool:
        return bool((await call(api, token, "GET", url, 200))["status"] == "issued")

    await eventually(issued)
    with db.connect() as conn:
        cards = [r[0] for r in conn.execute("SELECT card_no FROM cards WHERE batch_id = %s ORDER BY 1", (batch["id"],))]
    assert len(cards) >= 2, cards
    return cards


async def bank_event(bank: Bank, event_id: str) -> dict[str, Any]:
    async def sent() -> dict[str, Any] | None:
        return next((e for e in bank.sent if e["event_id"] == event_id), None)

    found: dict[str, Any] = await eventually(sent)
    return found


async def pay(bank: Bank, settings: Settings, card_no: str) -> str:
    """Ask the bank for a payout onto ``card_no``; the kind of the bank's answer."""
    payout_id = uuid.uuid4().hex
    body = {"payout_id": payout_id, "card_no": card_no, "amount": "100.00", "callback_url": settings.callback_url}
    async with httpx.AsyncClient() as client:
        assert (await client.post(f"{settings.bank_url}/payouts", json=body)).status_code == 202
    return str((await bank_event(bank, f"payout-{payout_id}"))["kind"])


async def test_a_lost_card_is_blocked_and_its_replacement_becomes_the_members_card(
    api: httpx.AsyncClient,
    live_api: str,
    bank: Bank,
    tokens: dict[str, str],
    db: Database,
    settings: Settings,
    temporal_client: Client,
    tmp_path: Path,
) -> None:
    bank.config = BankConfig(delay_seconds=0.1)
    code, clerk = await fresh_union(api, tokens, "101")
    cards = await issued_cards(api, db, clerk, code, tmp_path, seed=8101)
    lost, other = cards[0], cards[1]
    with db.connect() as conn:  # registered this year, as the union's registration leaves it
        conn.execute(
            """WITH r AS (INSERT INTO card_registrations (card_no, year, member_no, registered_at)
                          SELECT card_no, %s, member_no, now() FROM cards WHERE card_no = %s RETURNING card_no),
                    c AS (UPDATE cards SET status = 'registered' WHERE card_no IN (SELECT card_no FROM r))
               UPDATE members SET card_status = 'registered' WHERE card_no = %s""",
            (TODAY.year, lost, lost),
        )
        conn.commit()
    view = await call(api, clerk, "GET", f"/cards/{lost}", 200)
    assert (view["status"], view["current"], view["actions"], view["loss"]) == (
        "registered",
        True,
        ["report_loss"],
        None,
    )
    assert await pay(bank, settings, lost) == "payout.paid"
    stranger = tokens["clerk@101-0001"]
    for token, card, expect, code_ in (
        (stranger, lost, 403, "outside_scope"),
        (tokens["reviewer@101"], lost, 403, "role_not_allowed"),
        (clerk, "6222889999999999999", 404, "card_not_found"),
    ):
        r = await api.post(f"/cards/{card}/loss-report", json={}, headers=auth(token))
        assert (r.status_code, r.json()["error"]["code"]) == (expect, code_), r.text
    assert (await api.get(f"/cards/{lost}", headers=auth(stranger))).status_code == 403
    r = await api.post(f"/cards/{lost}/replacement", json={}, headers=auth(clerk))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "card_not_lost")

    view = await call(api, clerk, "POST", f"/cards/{lost}/loss-report", 201, json={})
    assert (view["status"], view["loss"]["status"], view["actions"]) == ("lost", "lost", ["request_replacement"])
    r = await api.post(f"/cards/{lost}/loss-report", json={}, headers=auth(clerk))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "card_already_lost")

    async def blocked() -> bool:
        return lost in bank.blocked_cards

    await eventually(blocked)
    assert await pay(bank, settings, lost) == "payout.failed"  # payouts to a lost card are refused
    view = await call(api, clerk, "POST", f"/cards/{lost}/replacement", 200, json={"reason": "会员申请补卡"})
    assert view["loss"]["status"] == "replacement_requested" and view["actions"] == []

    view = await eventually(lambda: _replaced(api, clerk, lost))
    new = view["replaced_by"]
    assert new and view["loss"] == {**view["loss"], "status": "replaced", "new_card_no": new} and not view["current"]
    fresh = await call(api, clerk, "GET", f"/cards/{new}", 200)
    assert (fresh["status"], fresh["current"], fresh["member_no"]) == ("registered", True, view["member_no"])
    with db.connect() as conn:
        member = conn.execute("SELECT card_no, card_status FROM members WHERE member_no = %s", (view["member_no"],))
        assert member.fetchone() == (new, "registered")
        years = conn.execute("SELECT year FROM card_registrations WHERE card_no = %s", (new,)).fetchall()
        audit = conn.execute(
            "SELECT action FROM audit_events WHERE entity_type = 'card_loss' AND entity_id = %s ORDER BY id", (lost,)
        ).fetchall()
    assert years == [(TODAY.year,)]  # the new card keeps the member's registration
    assert [a[0] for a in audit] == [
        "card_loss.report",
        "card_loss.block",
        "card_loss.request_replacement",
        "card_loss.replaced",
    ]
    assert await pay(bank, settings, new) == "payout.paid"  # payouts go to the current card
    r = await api.post(f"/cards/{lost}/replacement", json={}, headers=auth(clerk))
    assert r.status_code == 409
    handle = temporal_client.get_workflow_handle(f"card-loss-{lost}", result_type=CardLossSummary)
    assert await handle.result() == CardLossSummary(lost, "replaced", new)
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes.get(search.WORKFLOW_TYPE), attributes.get(search.STATUS), attributes.get(search.ORG)) == (
        "card_loss",
        "replaced",
        code,
    )
    await record(temporal_client, handle.id, "CardLossWorkflow--replaced")

    view = await call(api, clerk, "POST", f"/cards/{other}/loss-report", 201, json={"replace": True})
    assert view["status"] == "lost"
    view = await eventually(lambda: _replaced(api, clerk, other))
    listed = await call(api, clerk, "GET", f"/orgs/{code}/cards", 200, params={"status": "issued"})
    assert view["replaced_by"] in [c["card_no"] for c in listed]  # not registered this year: a plain issued card


async def _replaced(api: httpx.AsyncClient, token: str, card_no: str) -> dict[str, Any] | None:
    """The card once replaced and its loss workflow done (the card first, then the loss's projection)."""
    seen: dict[str, Any] = await call(api, token, "GET", f"/cards/{card_no}", 200)
    return seen if seen["status"] == "replaced" and seen["loss"]["status"] == "replaced" else None


async def test_registration_over_http_opened_by_the_admin(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, temporal_client: Client, tmp_path: Path
) -> None:
    year = 2071
    code, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, code, tmp_path, 3, seed=8201)
    with db.connect() as conn:
        cards = [r[0] for r in conn.execute("SELECT card_no FROM cards WHERE member_no = ANY(%s) ORDER BY 1", (nos,))]
    window = {"start": (TODAY - timedelta(days=1)).isoformat(), "end": (TODAY + timedelta(days=1)).isoformat()}
    await put_year(api, tokens, year, {**config_around(TODAY), "registration_window": window})
    url = f"/orgs/{code}/registrations/{year}"
    assert (await api.get(url, headers=auth(clerk))).status_code == 404  # not opened yet
    r = await api.post(f"/programme-years/{year}/registration/open", headers=auth(clerk))
    assert r.status_code == 403
    started = await call(api, tokens[ADMIN], "POST", f"/programme-years/{year}/registration/open", 202)
    assert started == {"year": year, "workflow_id": f"registration-year-{year}", "status": "started"}
    opener = temporal_client.get_workflow_handle(started["workflow_id"])
    assert await opener.result() >= 2  # this union and the demo unions that do card work
    await record(temporal_client, opener.id, "RegistrationYearWorkflow--opened")

    async def opened() -> dict[str, Any] | None:
        seen: dict[str, Any] = await call(api, clerk, "GET", url, 200)
        return seen if seen["status"] == "open" else None

    view = await eventually(opened)
    assert (view["opens_on"], view["closes_on"], view["actions"]) == (window["start"], window["end"], ["register"])
    for token in (tokens["clerk@101-0001"], tokens["reviewer@101"]):
        assert (await api.post(url, json={"all": True}, headers=auth(token))).status_code == 403
    r = await api.post(url, json={}, headers=auth(clerk))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "cards_required")
    unknown = "6222889999999999998"
    r = await api.post(url, json={"card_nos": [cards[0], unknown]}, headers=auth(clerk))
    error = r.json()["error"]
    assert (r.status_code, error["code"], error["details"]["card_nos"]) == (409, "cards_unavailable", [unknown])
    assert unknown in error["message"]
    assert (await call(api, clerk, "GET", url, 200))["registered"] == 0  # all or nothing
    done = await call(api, clerk, "POST", url, 200, json={"card_nos": [cards[0]]})
    assert (done["registered_now"], done["registration"]["registered"]) == (1, 1)
    done = await call(api, clerk, "POST", url, 200, json={"all": True})
    assert (done["registered_now"], done["registration"]["registered"]) == (2, 3)
    assert [h["action"] for h in done["registration"]["history"]] == ["registration.open"] + [
        "registration.register"
    ] * 2
    listed = await call(api, clerk, "GET", f"/orgs/{code}/cards", 200, params={"status": "registered"})
    assert sorted(c["card_no"] for c in listed) == cards
    again = await call(api, tokens[ADMIN], "POST", f"/programme-years/{year}/registration/open", 202)
    assert again["status"] == "started" and await opener.result() >= 2  # a rerun changes nothing
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT count(*) FROM registrations r JOIN organisations o ON o.id = r.org_id WHERE o.code = %s", (code,)
        ).fetchone()
    assert rows == (1,)
    assert (await call(api, clerk, "GET", url, 200))["registered"] == 3


async def test_the_yearly_schedule_opens_registrations_on_the_dev_server(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, settings: Settings, temporal_client: Client
) -> None:
    assert await ensure_schedules(temporal_client, settings) == [REGISTRATION_SCHEDULE]
    assert await ensure_schedules(temporal_client, settings) == []  # idempotent
    schedule = temporal_client.get_schedule_handle(REGISTRATION_SCHEDULE)
    described = await schedule.describe()
    calendar = described.schedule.spec.calendars[0]
    assert (calendar.month[0].start, calendar.day_of_month[0].start, calendar.hour[0].start) == (4, 1, 0)
    assert described.schedule.spec.time_zone_name == settings.timezone
    # This year's window is over (or its defaults are): only a registration already arranged for a
    # later window is started, so the trigger lapses nobody's card in the shared test database.
    code, _ = await fresh_union(api, tokens, "104")
    year = TODAY.year
    with db.connect() as conn:
        conn.execute(
            """INSERT INTO registrations (org_id, year, status, registered, lapsed, opens_on, closes_on, workflow_id,
                                          updated_at)
               SELECT id, %s, 'scheduled', 0, 0, '2099-05-01', '2099-06-30', %s, now() FROM organisations
               WHERE code = %s""",
            (year, f"registration-{code}-{year}", code),
        )
        conn.commit()
    await schedule.trigger()

    async def ran() -> list[str]:
        return [a.action.workflow_id for a in (await schedule.describe()).info.recent_actions]  # type: ignore[attr-defined]

    opener = temporal_client.get_workflow_handle((await eventually(ran))[0])
    assert await opener.result() >= 1
    registration = temporal_client.get_workflow_handle(f"registration-{code}-{year}")
    assert (await registration.describe()).status == WorkflowExecutionStatus.RUNNING  # asleep until its window
    await registration.terminate("test over")
    await schedule.delete()


async def test_a_transfer_is_stored_and_handed_to_its_enrollment(
    api: httpx.AsyncClient, live_api: str, bank: Bank, db: Database, settings: Settings
) -> None:
    bank.config = BankConfig(delay_seconds=0.1)
    body = {"reference": "enrollment-NOPE-2071", "amount": "123.45", "callback_url": settings.callback_url}
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{settings.bank_url}/transfers", json=body)
    assert r.status_code == 202
    event = await bank_event(bank, r.json()["event_id"])  # delivered: acknowledged without a workflow to tell
    assert (event["kind"], event["reference"], event["amount"]) == ("transfer.received", body["reference"], "123.45")
    with db.connect() as conn:
        stored = conn.execute("SELECT kind, body FROM bank_callbacks WHERE event_id = %s", (event["event_id"],))
        row = stored.fetchone()
    assert row is not None and row[0] == "transfer.received" and row[1]["reference"] == body["reference"]
    again = json.dumps(event).encode()  # the bank repeats itself: acknowledged, stored once
    async with httpx.AsyncClient(base_url=live_api) as client:
        r = await client.post("/bank/callbacks", content=again, headers=signed_headers(settings.bank_secret, again))
    assert (r.status_code, r.json()["status"]) == (200, "duplicate")
