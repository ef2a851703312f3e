"""The bank simulator: takes card batches, answers later with signed callbacks, like a bank.

It acknowledges a batch, then reports every member (a card number, or a rejection with its
reason) in one or several result files, and later sends card activations. Faults are set by
configuration (``PUT /config``): delays, duplicate callbacks, files out of order, HTTP 500s on
submission, members rejected by ID number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.bank_signing import luhn_digit, signed_headers
from core.logging import get_logger

log = get_logger("bank_sim")
CARD_PREFIX = "622288"


class BankConfig(BaseModel):
    """How the simulated bank behaves; every field can be changed at run time."""

    delay_seconds: float = Field(1.0, description="Time between receiving a batch or a payout and answering it.")
    files: int = Field(1, ge=1, description="Result files a batch's answer is split into.")
    reject_id_numbers: list[str] = Field(default_factory=list, description="Members refused by the bank.")
    reject_reason: str = "身份信息核验未通过"
    duplicate_callbacks: bool = Field(False, description="Send every callback twice.")
    out_of_order: bool = Field(False, description="Send result files last first.")
    fail_submissions: int = Field(0, ge=0, description="Answer this many next submissions with HTTP 500.")
    acknowledge: bool = Field(True, description="Send a batch.acknowledged callback first.")
    hold: bool = Field(False, description="Keep batches without answering (a bank that never answers).")
    pay_any_card: bool = Field(False, description="Pay cards this simulator did not issue (for load tests).")
    lose_payout_answers: int = Field(
        0, ge=0, description="Accept this many next new payouts, then answer HTTP 500 as if the answer was lost."
    )


class BatchIn(BaseModel):
    batch_no: str
    channel: str
    branch: str
    callback_url: str
    members: list[dict[str, Any]]


class PayoutIn(BaseModel):
    payout_id: str = Field(description="The claim's key: the bank pays a payout id once.")
    card_no: str
    amount: str = Field(description="CNY, as a decimal string")
    callback_url: str


class ReplaceIn(BaseModel):
    callback_url: str


class TransferIn(BaseModel):
    reference: str = Field(description="What the payment is for, e.g. an enrollment workflow id.")
    amount: str = Field(description="CNY, as a decimal string")
    callback_url: str


class Bank:
    def __init__(self, secret: str, config: BankConfig, state_file: Path | None = None) -> None:
        self.secret = secret
        self.state_file = state_file  # the cards it issued, blocked and replaced, kept across restarts
        self.config = config
        self.batches: dict[str, BatchIn] = {}
        self.cards: dict[str, tuple[str, str]] = {}  # card number -> (member number, callback url)
        self.payouts: dict[str, PayoutIn] = {}  # every payout paid or refused, once per payout id
        self.payout_requests: list[str] = []  # every request received, repeats included
        self.blocked_cards: set[str] = set()  # reported lost: payouts to them fail
        self.replacements: dict[str, str] = {}  # lost card number -> its replacement
        self.transfers: list[TransferIn] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent: list[dict[str, Any]] = []
        self.client = httpx.AsyncClient(timeout=10)
        if state_file is not None and state_file.exists():
            state = json.loads(state_file.read_text(encoding="utf-8"))
            self.cards = {k: (v[0], v[1]) for k, v in state["cards"].items()}
            self.blocked_cards = set(state["blocked_cards"])
            self.replacements = dict(state["replacements"])

    def save(self) -> None:
        """Keep the card register like a bank would (a simulator restarted by `unioncard dev`
        still knows the cards it issued)."""
        if self.state_file is None:
            return
        state = {"cards": self.cards, "blocked_cards": sorted(self.blocked_cards), "replacements": self.replacements}
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.state_file)

    def maybe_fail(self) -> None:
        """Answer HTTP 500 while ``fail_submissions`` lasts (batches and payouts alike)."""
        if self.config.fail_submissions > 0:
            self.config.fail_submissions -= 1
            raise HTTPException(500, "simulated bank failure")

    def card_number(self) -> str:
        body = CARD_PREFIX + "".join(random.choice("0123456789") for _ in range(12))
        return body + luhn_digit(body)

    async def deliver(self, url: str, event: dict[str, Any]) -> None:
        """POST a signed callback, retrying while the service is unreachable or failing."""
        body = json.dumps(event, ensure_ascii=False).encode()
        copies = 2 if self.config.duplicate_callbacks else 1
        for _ in range(copies):
            for attempt in range(30):
                try:
                    r = await self.client.post(url, content=body, headers=signed_headers(self.secret, body))
                    if r.status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(min(0.2 * 2**attempt, 5))
        self.sent.append(event)

    async def answer(self, batch: BatchIn) -> None:
        await asyncio.sleep(self.config.delay_seconds)
        while self.config.hold:  # noqa: ASYNC110  (the config may change at any time)
            await asyncio.sleep(0.5)
        if self.config.acknowledge:
            await self.deliver(
                batch.callback_url,
                {
                    "event_id": f"ack-{batch.batch_no}",
                    "kind": "batch.acknowledged",
                    "batch_no": batch.batch_no,
                    "members": len(batch.members),
                },
            )
        refused = set(self.config.reject_id_numbers)
        results = []
        for m in batch.members:
            if m.get("id_number") in refused:
                results.append({"member_no": m["member_no"], "card_no": None, "reason": self.config.reject_reason})
            else:
                card_no = self.card_number()
                self.cards[card_no] = (m["member_no"], batch.callback_url)
                results.append({"member_no": m["member_no"], "card_no": card_no, "reason": None})
        self.save()
        n = min(self.config.files, max(len(results), 1))
        files = [results[i::n] for i in range(n)]
        order = list(range(n))[::-1] if self.config.out_of_order else list(range(n))
        for i in order:
            await self.deliver(
                batch.callback_url,
                {
                    "event_id": f"results-{batch.batch_no}-{i + 1}-of-{n}",
                    "kind": "batch.results",
                    "batch_no": batch.batch_no,
                    "file_no": i + 1,
                    "files": n,
                    "results": files[i],
                },
            )

    async def later(self, url: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` after the configured delay (and while ``hold`` lasts, not at all)."""
        await asyncio.sleep(self.config.delay_seconds)
        while self.config.hold:  # noqa: ASYNC110  (the config may change at any time)
            await asyncio.sleep(0.5)
        await self.deliver(url, event)

    def start(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def keep_card_on_record(state_file: Path, card_no: str, member_no: str, callback_url: str) -> None:
    """Put a card the bank issued before on the simulator's register, as a bank's records would
    hold it (the demo's seeded history): the simulator started next pays it like its own."""
    state: dict[str, Any] = {"cards": {}, "blocked_cards": [], "replacements": {}}
    if state_file.exists():
        state = json.loads(state_file.read_text(encoding="utf-8"))
    if card_no in state["cards"]:
        return
    state["cards"][card_no] = [member_no, callback_url]
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    tmp.replace(state_file)


def create_bank_app(secret: str, config: BankConfig | None = None, state_file: Path | None = None) -> FastAPI:
    bank = Bank(secret, config or BankConfig(), state_file)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for task in list(bank.tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await bank.client.aclose()

    app = FastAPI(title="bank simulator", lifespan=lifespan)
    app.state.bank = bank
    app.include_router(router)
    return app


def _bank(request: Request) -> Bank:
    bank: Bank = request.app.state.bank
    return bank


BankDep = Annotated[Bank, Depends(_bank)]
router = APIRouter()


@router.post("/batches", status_code=202)
async def receive_batch(batch: BatchIn, bank: BankDep) -> JSONResponse:
    bank.maybe_fail()
    if batch.batch_no in bank.batches:
        return JSONResponse({"status": "already_received", "batch_no": batch.batch_no}, status_code=200)
    bank.batches[batch.batch_no] = batch
    bank.start(bank.answer(batch))
    log.info("batch received", batch_no=batch.batch_no, members=len(batch.members))
    return JSONResponse({"status": "received", "batch_no": batch.batch_no}, status_code=202)


@router.post("/cards/{card_no}/activate", status_code=202)
async def activate(card_no: str, bank: BankDep) -> dict[str, str]:
    """A member activates their card at a branch; the bank tells the union."""
    found = bank.cards.get(card_no)
    if found is None:
        raise HTTPException(404, "no such card")
    member_no, url = found
    bank.start(
        bank.deliver(
            url,
            {
                "event_id": f"activated-{card_no}-{uuid.uuid4().hex[:6]}",
                "kind": "card.activated",
                "card_no": card_no,
                "member_no": member_no,
            },
        )
    )
    return {"status": "activating", "card_no": card_no}


@router.post("/payouts", status_code=202)
async def payout(p: PayoutIn, bank: BankDep) -> JSONResponse:
    """Pay an amount onto a card, once per payout id; the outcome comes as a signed callback."""
    bank.payout_requests.append(p.payout_id)
    bank.maybe_fail()
    if p.payout_id in bank.payouts:
        return JSONResponse({"status": "already_received", "payout_id": p.payout_id}, status_code=200)
    bank.payouts[p.payout_id] = p
    known = p.card_no in bank.cards or bank.config.pay_any_card
    paid = known and p.card_no not in bank.blocked_cards
    event = {
        "event_id": f"payout-{p.payout_id}",
        "kind": "payout.paid" if paid else "payout.failed",
        "payout_id": p.payout_id,
        "card_no": p.card_no,
        "amount": p.amount,
        "reason": None if paid else "卡片不存在或已挂失",
    }
    bank.start(bank.later(p.callback_url, event))
    if bank.config.lose_payout_answers > 0:  # accepted, but the caller never hears so
        bank.config.lose_payout_answers -= 1
        raise HTTPException(500, "simulated lost answer")
    return JSONResponse({"status": "received", "payout_id": p.payout_id}, status_code=202)


@router.post("/cards/{card_no}/block", status_code=200)
async def block(card_no: str, bank: BankDep) -> dict[str, str]:
    """A loss report reached the bank: payouts to the card fail from now on."""
    bank.blocked_cards.add(card_no)
    bank.save()
    return {"status": "blocked", "card_no": card_no}


@router.post("/cards/{card_no}/replace", status_code=202)
async def replace(card_no: str, request: ReplaceIn, bank: BankDep) -> JSONResponse:
    """A new card for a lost one, once per lost card; its number comes as a signed callback."""
    found = bank.cards.get(card_no)
    if found is None:
        raise HTTPException(404, "no such card")
    if card_no in bank.replacements:
        return JSONResponse({"status": "already_received", "card_no": card_no}, status_code=200)
    new_card_no = bank.card_number()
    bank.replacements[card_no] = new_card_no
    bank.blocked_cards.add(card_no)
    bank.cards[new_card_no] = (found[0], request.callback_url)
    bank.save()
    event = {
        "event_id": f"replaced-{card_no}",
        "kind": "card.replaced",
        "old_card_no": card_no,
        "new_card_no": new_card_no,
        "member_no": found[0],
    }
    bank.start(bank.later(request.callback_url, event))
    return JSONResponse({"status": "received", "card_no": card_no}, status_code=202)


@router.post("/transfers", status_code=202)
async def transfer(t: TransferIn, bank: BankDep) -> dict[str, str]:
    """A union pays money (e.g. its share of an enrollment); the credit comes as a signed callback."""
    event_id = f"transfer-{uuid.uuid4().hex}"
    bank.transfers.append(t)
    event = {"event_id": event_id, "kind": "transfer.received", "reference": t.reference, "amount": t.amount}
    bank.start(bank.later(t.callback_url, event))
    return {"status": "received", "event_id": event_id}


@router.get("/config")
async def read_config(bank: BankDep) -> BankConfig:
    return bank.config


@router.put("/config")
async def write_config(config: BankConfig, bank: BankDep) -> BankConfig:
    bank.config = config
    return bank.config


@router.get("/batches/{batch_no}")
async def read_batch(batch_no: str, bank: BankDep) -> dict[str, Any]:
    batch = bank.batches.get(batch_no)
    if batch is None:
        raise HTTPException(404, "no such batch")
    return {
        "batch_no": batch_no,
        "members": len(batch.members),
        "callbacks_sent": [e["event_id"] for e in bank.sent if e.get("batch_no") == batch_no],
    }
