"""Exactly-once payout under faults, on the dev server with a worker process of its own: the
bank fails the first request, accepts the second but its answer is lost (the activity retries),
the worker is killed between the payout request and the bank's callback, and the callback is
delivered three times. The member is paid once and the claim ends `paid`."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client

from bank_sim.app import Bank, BankConfig
from core.bank_signing import signed_headers
from core.db import Database
from core.settings import Settings
from tests.api.test_claims import claimant, programme_year
from tests.workflows.conftest import user
from tests.workflows.test_claim_timers import approve_all, stage_claim
from tests.workflows.worker_processes import WorkerProcesses
from workflows.claim import ClaimInput, ClaimWorkflow, claim_workflow_id

__all__ = ["programme_year"]  # the autouse fixture that configures the programme year


async def status_in_db(db: Database, claim_id: int, status: str, seconds: float = 60) -> None:
    """Wait for the claim's projected status (readable while no worker runs)."""
    for _ in range(int(seconds * 10)):
        with db.connect() as conn:
            row = conn.execute("SELECT status FROM claims WHERE id = %s", (claim_id,)).fetchone()
        if row and row[0] == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"claim {claim_id} never reached {status}: {row}")


async def test_a_payout_survives_bank_errors_a_killed_worker_and_repeated_callbacks(
    settings: Settings,
    db: Database,
    temporal_client: Client,
    live_api: str,
    bank: Bank,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    # The first payout request fails (HTTP 500), the second is accepted but its answer is lost,
    # the third hears "already received"; the bank's callback comes 8 s after acceptance.
    bank.config = BankConfig(delay_seconds=8, fail_submissions=1, lose_payout_answers=1, duplicate_callbacks=True)
    org, _, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=7001)
    clerk = user(db, "clerk", org)
    claim_id = stage_claim(db, member_no, "accidental_disability", clerk)
    inp = ClaimInput(claim_id, org, clerk.org_path, "101", "101-S01", clerk.user_id)
    queue = f"payout-{uuid.uuid4().hex[:6]}"
    with WorkerProcesses(settings, queue) as workers:
        first = workers.start()
        handle = await temporal_client.start_workflow(
            ClaimWorkflow.run, inp, id=claim_workflow_id(claim_id), task_queue=queue
        )
        await status_in_db(db, claim_id, "under_review")
        await approve_all(handle, db, org)
        payout_id = f"claim-{claim_id}-0"
        await status_in_db(db, claim_id, "payout_pending")  # the third request heard "already received"
        workers.kill(first)  # between the payout request and the bank's callback
        event = f"payout-{payout_id}"
        for _ in range(100):  # the callback (twice) reaches the API while no worker runs
            with db.connect() as conn:
                stored = conn.execute("SELECT body FROM bank_callbacks WHERE event_id = %s", (event,)).fetchone()
            if stored:
                break
            await asyncio.sleep(0.2)
        assert stored, "the bank's callback never arrived"
        body = json.dumps(stored[0], ensure_ascii=False).encode()
        async with httpx.AsyncClient(base_url=live_api) as client:  # and a third time, by hand
            r = await client.post("/bank/callbacks", content=body, headers=signed_headers(settings.bank_secret, body))
        assert r.status_code == 200, r.text
        workers.start()
        result = await asyncio.wait_for(handle.result(), 90)
    assert result.status == "paid"
    mine = [p for p in bank.payout_requests if p.startswith(f"claim-{claim_id}-")]
    # failed, accepted with the answer lost, "already received" (once more if the worker died
    # before reporting the activity done): always the same payout id
    assert len(mine) >= 3 and set(mine) == {payout_id}
    assert [p for p in bank.payouts if p.startswith(f"claim-{claim_id}-")] == [payout_id]  # paid once
    with db.connect() as conn:
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM audit_events WHERE entity_type = 'claim' AND entity_id = %s", (str(claim_id),)
            )
        ]
        paid_at = conn.execute("SELECT paid_at FROM claims WHERE id = %s", (claim_id,)).fetchone()
    assert actions.count("claim.paid") == 1 and actions.count("claim.pay") == 1
    assert paid_at is not None and paid_at[0] is not None
