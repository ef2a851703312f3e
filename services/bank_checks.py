"""A bank callback checked against the facts of what it is about, before it is stored or handed
to a workflow: the members of a result file are the batch's, a payout result is about a payout
the claim made (its attempt, card and amount), a transfer is for an enrollment that waits for
exactly that amount. A refusal is audited on the batch, claim or enrollment and answered 422
``callback_refused``; nothing is stored, so nothing is applied, moved or counted.

A transfer for an enrollment that does not exist yet is not refused: it is stored, and the
enrollment's workflow takes it when it starts (``stored_transfers``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from core.errors import Invalid
from models.inputs import INT4_MAX, forbidden_at
from rules.fees import to_fen
from rules.money import yuan

_PAYOUT_ID = re.compile(r"^claim-(\d{1,10})-(\d{1,6})$")
ENDED_ENROLLMENT = ("paid", "filed", "completed", "expired", "failed_unpaid", "cancelled")
SHOWN = 10  # member numbers named in a refusal


@dataclass
class Refusal:
    entity: str  # card_batch, claim, enrollment
    key: str
    org_id: int | None
    reason: str


def clean(value: Any) -> None:
    """Every text in the event storable (no NUL, control character or lone surrogate)."""
    if isinstance(value, str):
        if forbidden_at(value, multiline=True) is not None:
            raise Invalid("bad_callback", "回调内容含有不允许的字符")
    elif isinstance(value, dict):
        for key, item in value.items():
            clean(key)
            clean(item)
    elif isinstance(value, list):
        for item in value:
            clean(item)


def refusal(conn: psycopg.Connection, event: dict[str, Any]) -> Refusal | None:
    """Why ``event`` contradicts the facts it names, or None when it may be stored."""
    kind = event["kind"]
    if kind == "batch.results":
        return _results(conn, event)
    if kind in ("payout.paid", "payout.failed") and str(event.get("payout_id") or "").startswith("claim-"):
        return _payout(conn, event)
    if kind == "transfer.received" and str(event.get("reference") or "").startswith("enrollment-"):
        return _transfer(conn, event)
    return None


def _results(conn: psycopg.Connection, event: dict[str, Any]) -> Refusal | None:
    batch = conn.execute(
        "SELECT id, org_id FROM card_batches WHERE batch_no = %s", (str(event.get("batch_no")),)
    ).fetchone()
    if batch is None:
        return None  # about no batch of ours: stored, handed to nobody
    results = event.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        return Refusal("card_batch", str(batch[0]), batch[1], "结果文件格式不正确")
    named = [str(r.get("member_no")) for r in results]
    strangers = [
        r[0]
        for r in conn.execute(
            """SELECT DISTINCT n FROM unnest(%s::text[]) AS n WHERE NOT EXISTS (
                 SELECT 1 FROM card_batch_members bm WHERE bm.batch_id = %s AND bm.member_no = n) ORDER BY n""",
            (named, batch[0]),
        )
    ]
    if not strangers:
        return None
    shown = "、".join(strangers[:SHOWN]) + ("等" if len(strangers) > SHOWN else "")
    return Refusal("card_batch", str(batch[0]), batch[1], f"结果文件中有{len(strangers)}名会员不在本批次：{shown}")


def _payout(conn: psycopg.Connection, event: dict[str, Any]) -> Refusal | None:
    payout_id = str(event["payout_id"])
    parsed = _PAYOUT_ID.match(payout_id)
    claim_id = int(parsed[1]) if parsed else 0
    claim = (
        conn.execute(
            "SELECT org_id, amount_fen, payout_attempt, payout_card_no FROM claims WHERE id = %s", (claim_id,)
        ).fetchone()
        if 0 < claim_id <= INT4_MAX
        else None
    )
    if parsed is None or claim is None:
        return Refusal("claim", str(claim_id or payout_id[:40]), None, f"付款编号 {payout_id[:40]} 不对应任何给付申请")
    org_id, amount_fen, attempt, card_no = claim
    answered = int(parsed[2])

    def refuse(reason: str) -> Refusal:
        return Refusal("claim", str(claim_id), org_id, f"付款 {payout_id} 的银行结果被拒绝：{reason}")

    if card_no is None or answered > attempt:
        return refuse("该次付款尚未发出")
    if answered < attempt:
        return None  # about an earlier attempt: the workflow finds it stale and changes nothing
    if "amount" in event and _fen(event["amount"]) != amount_fen:
        return refuse(f"金额 {str(event['amount'])[:20]} 元与给付金额 {yuan(amount_fen)} 元不符")
    if "card_no" in event and str(event["card_no"]) != card_no:
        return refuse("卡号与付款所用的卡不符")
    return None


def _transfer(conn: psycopg.Connection, event: dict[str, Any]) -> Refusal | None:
    enrollment = conn.execute(
        "SELECT id, org_id, status, grassroots_fen FROM enrollments WHERE workflow_id = %s",
        (str(event["reference"]),),
    ).fetchone()
    if enrollment is None:
        return None  # an enrollment not opened yet: kept for it
    key, org_id, status, due_fen = str(enrollment[0]), enrollment[1], enrollment[2], enrollment[3]
    amount = _fen(event.get("amount"))
    if amount is None or amount <= 0:
        return Refusal("enrollment", key, org_id, f"银行转账金额 {str(event.get('amount'))[:20]} 无法识别，未登记")
    if status in ENDED_ENROLLMENT:
        return Refusal("enrollment", key, org_id, f"银行转账 {yuan(amount)} 元：参保已缴费或已结束，未登记")
    if status == "approved" and amount != due_fen:
        return Refusal(
            "enrollment",
            key,
            org_id,
            f"银行转账金额 {yuan(amount)} 元与应缴金额 {yuan(due_fen)} 元不符，未登记",
        )
    return None  # before approval the amount is checked when the fee is fixed


def _fen(amount: Any) -> int | None:
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return None
    return to_fen(value) if value.is_finite() and abs(value) <= INT4_MAX / 100 else None


def audit_refusal(conn: psycopg.Connection, event: dict[str, Any], refused: Refusal) -> None:
    conn.execute(
        """INSERT INTO audit_events (at, actor_id, actor_name, org_id, action, entity_type, entity_id, summary)
           VALUES (now(), NULL, 'bank', %s, %s, %s, %s, %s)""",
        (refused.org_id, f"{refused.entity}.callback_refused", refused.entity, refused.key,
         f"{refused.reason}（回调 {str(event['event_id'])[:80]}）"[:500]),
    )  # fmt: skip
