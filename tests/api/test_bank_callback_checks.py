"""Signed bank callbacks checked against the facts of what they name: a result file naming a
member not in the batch, a payout result that is not the claim's payout, a transfer of the
wrong amount or for an enrollment that is paid already are refused (422), audited, and change
nothing; a transfer for an enrollment not opened yet is kept and pays it once it is approved."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bank_sim.app import Bank, BankConfig
from core.bank_signing import signed_headers
from core.db import Database
from core.settings import Settings
from tests.api.helpers import call, decide, until
from tests.api.test_card_batches import CLERK, member_nos, reset, submitted_batch
from tests.api.test_card_batches import members as members  # the fixture
from tests.api.test_claims import ILLNESS, TODAY, claimant, programme_year
from tests.enrollment_setup import CENTER, DISTRICT, SECONDARY, carded_members, config_around, fresh_union, put_year
from tests.workflows.recording import record

__all__ = ["members", "programme_year"]  # fixtures used here


async def send(live_api: str, settings: Settings, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    async with httpx.AsyncClient(base_url=live_api) as client:
        return await client.post("/bank/callbacks", content=body, headers=signed_headers(settings.bank_secret, body))


def refused(r: httpx.Response) -> str:
    assert (r.status_code, r.json()["error"]["code"]) == (422, "callback_refused"), r.text
    return str(r.json()["error"]["message"])


def audited(db: Database, entity: str, key: object) -> list[str]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT summary FROM audit_events WHERE entity_type = %s AND entity_id = %s AND action = %s ORDER BY id",
            (entity, str(key), f"{entity}.callback_refused"),
        )
        return [r[0] for r in rows]


def stored(db: Database, event_id: str) -> bool:
    with db.connect() as conn:
        return conn.execute("SELECT 1 FROM bank_callbacks WHERE event_id = %s", (event_id,)).fetchone() is not None


async def test_a_result_file_naming_a_member_not_in_the_batch_is_refused(
    api: httpx.AsyncClient, live_api: str, bank: Bank, tokens: dict[str, str], db: Database, members: list[list[str]],
    settings: Settings,
) -> None:  # fmt: skip
    reset(bank, hold=True)
    token = tokens[CLERK]
    nos = await member_nos(db, members)
    batch = await submitted_batch(api, token, nos[:4])
    stranger = nos[5]  # of the same union, but not in this batch
    results = [{"member_no": n, "card_no": f"6222880000{i:09d}", "reason": None} for i, n in enumerate(nos[:3])]
    strange = {"member_no": stranger, "card_no": None, "reason": "x"}
    event = {"event_id": f"results-{batch['batch_no']}-x", "kind": "batch.results", "batch_no": batch["batch_no"],
             "file_no": 1, "files": 1, "results": [*results, strange]}  # fmt: skip
    message = refused(await send(live_api, settings, event))
    assert stranger in message and "不在本批次" in message
    assert not stored(db, event["event_id"])
    assert any(stranger in s for s in audited(db, "card_batch", batch["id"]))
    view = await call(api, token, "GET", f"/card-batches/{batch['id']}", 200)
    assert (view["status"], view["issued"], view["rejected"]) == ("submitted", 0, 0)
    assert not any(h["action"] == "card_batch.bank_file" for h in view["history"])
    event = {**event, "event_id": f"results-{batch['batch_no']}-y", "results": results}  # the batch's own members
    assert (await send(live_api, settings, event)).status_code == 200
    view = await until(api, token, f"/card-batches/{batch['id']}", "bank_feedback")
    assert view["issued"] == 3


async def test_a_payout_result_that_is_not_the_claims_payout_is_refused(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str,
    settings: Settings,
) -> None:  # fmt: skip
    bank.config = BankConfig(delay_seconds=4)  # the real answer comes after the forged ones
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=8821)
    body = {**ILLNESS, "event_date": (TODAY - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    for token in (grassroots, tokens[SECONDARY], tokens[DISTRICT], tokens[CENTER]):
        await decide(api, token, url, "/review", 200, decision="approve")
    await until(api, clerk, url, "payout_pending")
    with db.connect() as conn:
        card = conn.execute("SELECT payout_card_no FROM claims WHERE id = %s", (claim["id"],)).fetchone()
    assert card is not None and card[0]
    payout_id = f"claim-{claim['id']}-0"
    forged = {"kind": "payout.paid", "payout_id": payout_id, "card_no": card[0], "reason": None}
    changes = (
        ("forged-1", {"amount": "30000.00"}),  # another claim's amount
        ("forged-2", {"amount": "10000.00", "card_no": "6222889999999999999"}),  # another card
        ("forged-3", {"payout_id": f"{payout_id[:-1]}7"}),  # an attempt never made
    )
    for event_id, change in changes:
        r = await send(live_api, settings, {**forged, "event_id": f"{event_id}-{claim['id']}", **change})
        refused(r)
    assert len(audited(db, "claim", claim["id"])) == 3
    view = await call(api, clerk, "GET", url, 200)
    assert view["status"] == "payout_pending" and "claim.paid" not in [h["action"] for h in view["history"]]
    paid = await until(api, clerk, url, "paid", seconds=60)  # the bank's own answer still pays it
    assert [h["action"] for h in paid["history"]].count("claim.paid") == 1


async def test_transfers_are_checked_and_one_before_its_enrollment_is_kept(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, live_api: str, settings: Settings,
    temporal_client: Client,
) -> None:  # fmt: skip
    year = 2084
    await put_year(api, tokens, year, config_around(TODAY))
    first, first_clerk = await fresh_union(api, tokens, "101")
    second, second_clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, first_clerk, first, tmp_path, 2, seed=8831)
    await carded_members(api, db, second_clerk, second, tmp_path, 2, seed=8832)
    early = {"event_id": f"transfer-early-{second}", "kind": "transfer.received",
             "reference": f"enrollment-{second}-{year}", "amount": "10.40"}  # fmt: skip
    assert (await send(live_api, settings, early)).status_code == 200  # no enrollment yet: kept
    urls = {}
    for org, clerk in ((first, first_clerk), (second, second_clerk)):
        e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
        urls[org] = f"/enrollments/{e['id']}"
        await until(api, clerk, urls[org], "draft")
        await decide(api, clerk, urls[org], "/submit", 200, protection_type="A")
        await decide(api, tokens[DISTRICT], urls[org], "/review", 200, approve=True)
    paid = await until(api, second_clerk, urls[second], "paid")  # the kept transfer, applied once approved
    assert paid["paid"] == "10.40" and paid["payment_ref"] == "银行转账"
    view = await call(api, first_clerk, "GET", urls[first], 200)
    assert view["status"] == "approved" and view["grassroots_share"] == "10.40"
    wrong = {"event_id": f"transfer-wrong-{first}", "kind": "transfer.received",
             "reference": f"enrollment-{first}-{year}", "amount": "1.00"}  # fmt: skip
    assert "不符" in refused(await send(live_api, settings, wrong))
    again = {**wrong, "event_id": f"transfer-again-{second}", "reference": f"enrollment-{second}-{year}",
             "amount": "10.40"}  # fmt: skip
    assert "已缴费" in refused(await send(live_api, settings, again))
    await asyncio.sleep(0.5)
    for org, clerk, status in ((first, first_clerk, "approved"), (second, second_clerk, "paid")):
        view = await call(api, clerk, "GET", urls[org], 200)
        assert view["status"] == status
        assert [h["action"] for h in view["history"]].count("enrollment.pay") == (status == "paid")
        assert len(audited(db, "enrollment", view["id"])) == 1
    assert not stored(db, wrong["event_id"]) and not stored(db, again["event_id"])
    await record(temporal_client, f"enrollment-{second}-{year}", "EnrollmentWorkflow--paid-by-a-kept-transfer")
