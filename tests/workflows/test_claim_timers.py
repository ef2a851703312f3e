"""Claims on the time-skipping server: a return left unanswered closes the claim; a payout that
failed because the card was lost waits for the member's new card and pays it, once."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from bank_sim.app import Bank, BankConfig
from core.db import Database
from tests.api.test_claims import ILLNESS, TODAY, claimant, programme_year
from tests.workflows.conftest import user
from tests.workflows.recording import record
from workflows.claim import ClaimDecision, ClaimInput, ClaimSummary, ClaimWorkflow, Resubmission
from workflows.common import ActorRef, BankFile

__all__ = ["programme_year"]  # the autouse fixture that configures the programme year


def stage_claim(db: Database, member_no: str, kind: str, clerk: ActorRef) -> int:
    body = {**ILLNESS, "kind": kind, "event_date": (TODAY - timedelta(days=5)).isoformat()}
    with db.connect() as conn:
        row = conn.execute(
            """INSERT INTO claims (member_no, org_id, district_code, kind, illness, hospitalised, event_date,
                   description, status, amount_fen, reasons, payout_attempt, workflow_id, created_by, created_at,
                   updated_at)
               SELECT member_no, org_id, district_code, %s, %s, true, %s, %s, 'applied', 0, '[]', 0, '', %s,
                      now(), now() FROM members WHERE member_no = %s RETURNING id""",
            (kind, body["illness"], body["event_date"], body["description"], clerk.user_id, member_no),
        ).fetchone()
    assert row is not None
    return int(row[0])


def projected(db: Database, claim_id: int) -> tuple[str, str | None, int]:
    """The claim's row as projected: status, who it awaits, and how many reviewers' steps it has."""
    with db.connect() as conn:
        status, awaiting = conn.execute("SELECT status, awaiting FROM claims WHERE id = %s", (claim_id,)).fetchone()  # type: ignore[misc]
        reviews = conn.execute(
            "SELECT count(*) FROM audit_events WHERE entity_type = 'claim' AND entity_id = %s"
            " AND action IN ('claim.approve_level', 'claim.approve', 'claim.return', 'claim.reject')",
            (str(claim_id),),
        ).fetchone()
    assert reviews is not None
    return str(status), awaiting, int(reviews[0])


async def start(
    env: WorkflowEnvironment, queue: str, db: Database, org: str, member_no: str, kind: str
) -> tuple[int, WorkflowHandle[ClaimWorkflow, ClaimSummary]]:
    clerk = user(db, "clerk", org)
    claim_id = stage_claim(db, member_no, kind, clerk)
    path = clerk.org_path
    inp = ClaimInput(claim_id, org, path, "101", "101-S01", clerk.user_id, return_timeout_days=7)
    handle = await env.client.start_workflow(ClaimWorkflow.run, inp, id=f"ts-claim-{claim_id}", task_queue=queue)
    return claim_id, handle


async def status_is(handle: WorkflowHandle[ClaimWorkflow, ClaimSummary], status: str) -> ClaimSummary:
    for _ in range(300):
        summary = await handle.query(ClaimWorkflow.summary)
        if summary.status == status:
            return summary
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {status}: {summary}")


def reviewers(db: Database, org: str) -> list[tuple[str, ActorRef]]:
    """The four levels of a union under 101-S01 in district 101, in order, with a reviewer each."""
    return [
        ("grassroots", user(db, "reviewer", org)),
        ("secondary", user(db, "reviewer", "101-S01")),
        ("district", user(db, "reviewer", "101")),
        ("center", user(db, "center_reviewer", "SH")),
    ]


async def approve_all(handle: WorkflowHandle[ClaimWorkflow, ClaimSummary], db: Database, org: str) -> None:
    for _, reviewer in reviewers(db, org):
        await handle.execute_update(ClaimWorkflow.review, ClaimDecision(reviewer, "approve"))


def bank_answer(db: Database, claim_id: int, attempt: int, paid: bool) -> str:
    """Store the bank's payout callback as the callback route would."""
    event_id = f"ts-payout-claim-{claim_id}-{attempt}"  # not the simulator's own event ids
    body = {"event_id": event_id, "kind": "payout.paid" if paid else "payout.failed",
            "payout_id": f"claim-{claim_id}-{attempt}", "reason": None if paid else "卡片已挂失"}  # fmt: skip
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO bank_callbacks (event_id, kind, body, received_at) VALUES (%s, %s, %s::json, now())"
            " ON CONFLICT DO NOTHING",
            (event_id, body["kind"], json.dumps(body)),
        )
    return event_id


@pytest.mark.parametrize("returned_by", ["grassroots", "center"])
async def test_a_return_left_unanswered_closes_the_claim(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    tmp_path: Path,
    bank: Bank,
    returned_by: str,
) -> None:
    env, queue = skipping
    org, _, _, member_no = await claimant(
        api, tokens, db, tmp_path, bank, seed=6401 if returned_by == "grassroots" else 6901
    )
    claim_id, handle = await start(env, queue, db, org, member_no, "accidental_disability")
    levels = [reviewer for _, reviewer in reviewers(db, org)]
    approving, returning = (levels[:0], levels[0]) if returned_by == "grassroots" else (levels[:3], levels[3])
    async with asyncio.timeout(60):
        await status_is(handle, "under_review")
        for reviewer in approving:
            await handle.execute_update(ClaimWorkflow.review, ClaimDecision(reviewer, "approve"))
        await handle.execute_update(ClaimWorkflow.review, ClaimDecision(returning, "return", "缺材料"))
        # Nobody but the workflow writes these steps here (no API in between): it does so once
        # nothing has happened for a minute.
        await env.sleep(timedelta(minutes=2))
        assert projected(db, claim_id) == ("returned", "clerk", len(approving) + 1)
        await env.sleep(timedelta(days=6))
        assert (await handle.query(ClaimWorkflow.summary)).status == "returned"
        await env.sleep(timedelta(days=2))
        result = await handle.result()
    assert result.status == "closed"


async def test_a_payout_to_a_lost_card_waits_for_the_new_card_and_pays_once(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    tmp_path: Path,
    bank: Bank,
) -> None:
    env, queue = skipping
    bank.config = BankConfig(delay_seconds=0.1)
    org, _, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6501)
    with db.connect() as conn:
        lost = conn.execute("SELECT card_no FROM members WHERE member_no = %s", (member_no,)).fetchone()
    assert lost is not None
    bank.blocked_cards.add(lost[0])  # reported lost at the bank: its payout fails
    claim_id, handle = await start(env, queue, db, org, member_no, "critical_illness")
    async with asyncio.timeout(90):
        await status_is(handle, "under_review")
        await approve_all(handle, db, org)
        await status_is(handle, "payout_pending")
        await handle.signal(ClaimWorkflow.payout_result, BankFile(bank_answer(db, claim_id, 0, paid=False)))
        await status_is(handle, "payout_failed")
        await env.sleep(timedelta(days=2))  # no new card yet: keeps waiting, sends nothing
        assert (await handle.query(ClaimWorkflow.summary)).status == "payout_failed"
        with db.connect() as conn:
            conn.execute(
                "INSERT INTO cards (card_no, member_no, status, issued_at) VALUES (%s, %s, 'registered', now())",
                (f"6222887777{claim_id:09d}", member_no),
            )
            conn.execute(
                "UPDATE members SET card_no = %s, card_status = 'registered' WHERE member_no = %s",
                (f"6222887777{claim_id:09d}", member_no),
            )
        await handle.signal(ClaimWorkflow.card_changed)
        await status_is(handle, "payout_pending")
        stale = bank_answer(db, claim_id, 0, paid=False)  # the first attempt's answer, delivered again
        await handle.signal(ClaimWorkflow.payout_result, BankFile(stale))
        paid_event = bank_answer(db, claim_id, 1, paid=True)
        for _ in range(3):  # the callback delivered three times
            await handle.signal(ClaimWorkflow.payout_result, BankFile(paid_event))
        result = await handle.result()
    assert result.status == "paid"
    assert sorted(p for p in bank.payouts if p.startswith(f"claim-{claim_id}-")) == [
        f"claim-{claim_id}-0",
        f"claim-{claim_id}-1",
    ]
    with db.connect() as conn:
        row = conn.execute("SELECT payout_attempt, payout_card_no, paid_at FROM claims WHERE id = %s", (claim_id,))
        attempt, card_no, paid_at = row.fetchone()  # type: ignore[misc]
    assert attempt == 1 and card_no == f"6222887777{claim_id:09d}" and paid_at is not None
    assert projected(db, claim_id) == ("paid", None, 4)  # the reviewers' steps, written with the payout
    await record(env.client, handle.id, "ClaimWorkflow--paid-after-new-card")


async def test_every_level_returns_and_gets_the_claim_back_after_resubmission(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    tmp_path: Path,
    bank: Bank,
) -> None:
    env, queue = skipping
    bank.config = BankConfig(delay_seconds=0.1)
    org, _, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6801)
    claim_id, handle = await start(env, queue, db, org, member_no, "accidental_disability")
    clerk = user(db, "clerk", org)
    levels = reviewers(db, org)
    async with asyncio.timeout(90):
        await status_is(handle, "under_review")
        for level, reviewer in levels:
            returned = await handle.execute_update(
                ClaimWorkflow.review, ClaimDecision(reviewer, "return", f"{level}: 请补充材料")
            )
            assert (returned.status, returned.level) == ("returned", None)
            await env.sleep(timedelta(days=6))  # inside the 7 days the clerk has
            back = await handle.execute_update(ClaimWorkflow.resubmit, Resubmission(clerk))
            assert (back.status, back.level) == ("under_review", level)  # back to the level that returned it
            await handle.execute_update(ClaimWorkflow.review, ClaimDecision(reviewer, "approve"))
        await status_is(handle, "payout_pending")
        for _ in range(3):
            await handle.signal(ClaimWorkflow.payout_result, BankFile(bank_answer(db, claim_id, 0, paid=True)))
        result = await handle.result()
    assert result.status == "paid"
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT action, summary FROM audit_events WHERE entity_type = 'claim' AND entity_id = %s ORDER BY id",
            (str(claim_id),),
        ).fetchall()
    returns = [summary for action, summary in rows if action == "claim.return"]
    assert returns == [f"{level}: 请补充材料" for level, _ in levels]
    assert [a for a, _ in rows].count("claim.resubmit") == 4 and [a for a, _ in rows].count("claim.paid") == 1
