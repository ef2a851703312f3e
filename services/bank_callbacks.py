"""Signed callbacks from the bank: verified, checked against our facts, stored once, then signalled
to the workflow they are about (a batch, a lost card, an enrollment, a claim)."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.bank_signing import verify
from core.db import Database
from core.errors import Invalid, Unauthorized, Unavailable
from core.logging import get_logger
from core.settings import Settings
from services.bank_checks import audit_refusal, clean, refusal
from workflows.card_batch import CardBatchWorkflow
from workflows.card_loss import CardLossWorkflow, card_loss_workflow_id
from workflows.common import BankFile

log = get_logger("bank_callbacks")


async def receive_callback(
    *, db: Database, settings: Settings, temporal: Client, body: bytes, timestamp: str | None, signature: str | None
) -> dict[str, str]:
    """A bank event signed over ``timestamp.body`` with one of the bank's secrets: stored once and
    handed on; a repeat is acknowledged (``duplicate``) without acting twice, one that contradicts
    our facts is audited and refused (422 ``callback_refused``)."""
    refused = verify(settings.bank_secrets, timestamp, signature, body)
    if refused:
        raise Unauthorized(refused, "银行回调签名无效或已过期")
    event, event_id, kind = _event(body)
    inserted, batch_workflow = await run_in_threadpool(_store, db, event, event_id, kind)
    await _signal(temporal, event, event_id, kind, batch_workflow)
    log.info("bank callback", event_id=event_id, kind=kind, duplicate=not inserted)
    return {"status": "stored" if inserted else "duplicate", "event_id": event_id}


def _event(body: bytes) -> tuple[dict[str, Any], str, str]:
    """The event, its id and kind; refused unless it is an object whose texts can be stored."""
    try:
        event = json.loads(body)
        event_id, kind = str(event["event_id"]), str(event["kind"])
    except (ValueError, KeyError, TypeError):
        raise Invalid("bad_callback", "回调内容不是有效的事件") from None
    clean(event)
    if not (0 < len(event_id) <= 80 and 0 < len(kind) <= 40 and len(str(event.get("batch_no") or "")) <= 20):
        raise Invalid("bad_callback", "回调的事件编号、类型或批次号超出长度")
    return event, event_id, kind


def _store(db: Database, event: dict[str, Any], event_id: str, kind: str) -> tuple[bool, str | None]:
    """Store the event unless it was stored before or is refused (in a worker thread: the event
    loop never waits for the database): whether it is new, and the workflow of its batch."""
    with db.connect() as conn:
        stored = conn.execute("SELECT 1 FROM bank_callbacks WHERE event_id = %s", (event_id,)).fetchone()
        wrong = None if stored else refusal(conn, event)  # a repeat of a stored one was checked then
        if wrong is not None:
            audit_refusal(conn, event, wrong)
            conn.commit()
            log.warning("bank callback refused", event_id=event_id, kind=kind, entity=wrong.entity, key=wrong.key)
            raise Invalid("callback_refused", wrong.reason, details={"event_id": event_id})
        batch_no = None if event.get("batch_no") is None else str(event["batch_no"])
        inserted = conn.execute(
            """INSERT INTO bank_callbacks (event_id, kind, batch_no, body, received_at)
               VALUES (%s, %s, %s, %s, now()) ON CONFLICT (event_id) DO NOTHING""",
            (event_id, kind, batch_no, Jsonb(event)),
        ).rowcount
        batch = conn.execute("SELECT workflow_id FROM card_batches WHERE batch_no = %s", (batch_no,)).fetchone()
        if kind == "card.activated" and inserted:
            _activate(conn, event)
        conn.commit()
    return bool(inserted), None if batch is None else str(batch[0])


def _activate(conn: psycopg.Connection, event: dict[str, Any]) -> None:
    """An issued card the bank has activated, and its member's card status with it."""
    conn.execute(
        """WITH card AS (UPDATE cards SET status = 'activated', activated_at = now()
                         WHERE card_no = %s AND status = 'issued' RETURNING member_no)
           UPDATE members m SET card_status = 'activated', updated_at = now() FROM card
           WHERE m.member_no = card.member_no""",
        (event.get("card_no"),),
    )


async def _signal(
    temporal: Client, event: dict[str, Any], event_id: str, kind: str, batch_workflow: str | None
) -> None:
    """Hand a stored callback to its workflow (every time, a repeat too: the workflow ignores files
    it has, and a repeat whose first delivery was stored but not signalled is then not lost)."""
    if kind == "batch.results" and batch_workflow is not None:
        try:
            await temporal.get_workflow_handle(batch_workflow).signal(CardBatchWorkflow.bank_file, BankFile(event_id))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise Unavailable("temporal_unavailable", "暂时无法处理，请稍后重试") from None
            log.warning("bank file for a finished batch", event_id=event_id)
    if kind == "card.replaced":
        loss = temporal.get_workflow_handle(card_loss_workflow_id(str(event.get("old_card_no"))))
        await _hand_on(loss.signal(CardLossWorkflow.bank_replacement, BankFile(event_id)), event_id)
    reference = str(event.get("reference") or "")
    if kind == "transfer.received" and reference.startswith("enrollment-"):
        transfer = temporal.get_workflow_handle(reference).signal("bank_transfer", BankFile(event_id))
        await _hand_on(transfer, event_id)
    payout_id = str(event.get("payout_id") or "")
    if kind in ("payout.paid", "payout.failed") and payout_id.startswith("claim-"):
        claim = temporal.get_workflow_handle("-".join(payout_id.split("-")[:2]))  # claim-<id>-<attempt>
        await _hand_on(claim.signal("payout_result", BankFile(event_id)), event_id)


async def _hand_on(signal: Awaitable[None], event_id: str) -> None:
    """Signal a stored callback to its workflow; a workflow that is gone is logged and the callback
    acknowledged."""
    try:
        await signal
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise Unavailable("temporal_unavailable", "暂时无法处理，请稍后重试") from None
        log.warning("bank callback for no running workflow", event_id=event_id)
