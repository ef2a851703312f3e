"""The bank simulator on its own: batches, payouts once per id, signed callbacks to a receiver."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from bank_sim.app import Bank, BankConfig, create_bank_app
from core.bank_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.conftest import free_port, serve

SECRET = "sim-secret"


@pytest.fixture
async def sim() -> AsyncIterator[tuple[str, list[dict[str, Any]], str]]:
    """The simulator and a receiver that checks every callback's signature."""
    received: list[dict[str, Any]] = []
    receiver = FastAPI()

    @receiver.post("/cb")
    async def cb(request: Request) -> dict[str, str]:
        body = await request.body()
        assert verify(SECRET, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body) == ""
        received.append(json.loads(body))
        return {"ok": "1"}

    bank_port, cb_port = free_port(), free_port()
    app = create_bank_app(SECRET, BankConfig(delay_seconds=0, files=2))
    async for _ in serve(receiver, cb_port):
        async for _ in serve(app, bank_port):
            yield f"http://127.0.0.1:{bank_port}", received, f"http://127.0.0.1:{cb_port}/cb"


async def wait_events(received: list[dict[str, Any]], n: int) -> None:
    for _ in range(200):
        if len(received) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(received)


async def test_batches_are_answered_once_in_files_and_payouts_paid_once(
    sim: tuple[str, list[dict[str, Any]], str],
) -> None:
    url, received, cb = sim
    members = [{"member_no": f"10100000{i:02d}", "id_number": f"x{i}"} for i in range(5)]
    batch = {"batch_no": "B1", "channel": "normal", "branch": "b", "callback_url": cb, "members": members}
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/batches", json=batch)).status_code == 202
        assert (await client.post("/batches", json=batch)).json()["status"] == "already_received"
        await wait_events(received, 3)  # acknowledgement and two result files
        kinds = [e["kind"] for e in received]
        assert kinds == ["batch.acknowledged", "batch.results", "batch.results"]
        cards = [r["card_no"] for e in received[1:] for r in e["results"]]
        assert len(cards) == 5 and all(len(c) == 19 for c in cards)
        pay = {"payout_id": "claim-1", "card_no": cards[0], "amount": "10000.00", "callback_url": cb}
        assert (await client.post("/payouts", json=pay)).status_code == 202
        assert (await client.post("/payouts", json=pay)).json()["status"] == "already_received"
        await client.post(f"/cards/{cards[1]}/block")
        lost = {**pay, "payout_id": "claim-2", "card_no": cards[1]}
        await client.post("/payouts", json=lost)
        await wait_events(received, 5)
    outcomes = {e["payout_id"]: e["kind"] for e in received if e["kind"].startswith("payout")}
    assert outcomes == {"claim-1": "payout.paid", "claim-2": "payout.failed"}


async def test_a_restarted_simulator_still_knows_its_cards(tmp_path: Path) -> None:
    """Like a bank, the simulator started by `unioncard dev` keeps its card register across restarts."""
    state = tmp_path / "bank-sim.json"
    first = Bank(SECRET, BankConfig(), state)
    first.cards["6222880000000000001"] = ("1010000001", "http://x/cb")
    first.blocked_cards.add("6222880000000000002")
    first.replacements["6222880000000000002"] = "6222880000000000003"
    first.save()
    await first.client.aclose()
    second = Bank(SECRET, BankConfig(), state)
    await second.client.aclose()
    assert second.cards == first.cards
    assert second.blocked_cards == {"6222880000000000002"}
    assert second.replacements == {"6222880000000000002": "6222880000000000003"}
