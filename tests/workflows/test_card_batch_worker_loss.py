"""A worker killed in the middle of a card batch: another worker finishes it, and every member
ends with exactly one outcome and at most one card."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client

from bank_sim.app import Bank, BankConfig
from core.db import Database
from core.settings import Settings
from tests.workflows.conftest import user
from tests.workflows.test_card_batch_timers import fresh_members, stage_batch, submit_new_batch
from tests.workflows.worker_processes import WorkerProcesses
from workflows.card_batch import CardBatchInput, CardBatchWorkflow


def assert_one_outcome_and_one_card_each(db: Database, batch_id: int, members: int) -> None:
    with db.connect() as conn:
        outcomes = conn.execute(
            "SELECT count(*), count(outcome), count(DISTINCT card_no) FROM card_batch_members WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()
        cards = conn.execute(
            "SELECT member_no, count(*) FROM cards WHERE batch_id = %s GROUP BY member_no", (batch_id,)
        ).fetchall()
    assert outcomes == (members, members, members)
    assert len(cards) == members and all(n == 1 for _, n in cards)


async def test_a_killed_worker_leaves_no_member_without_one_outcome(
    settings: Settings,
    db: Database,
    temporal_client: Client,
    live_api: str,
    bank: Bank,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    bank.config = BankConfig(delay_seconds=1.5, files=3, duplicate_callbacks=True)
    nos = await fresh_members(api, tokens, db, tmp_path, seed=81)
    clerk = user(db, "clerk", "104-0001")
    batch_id, request_id, workflow_id, path = stage_batch(db, clerk, nos)
    queue = f"loss-{uuid.uuid4().hex[:6]}"
    with WorkerProcesses(settings, queue) as workers:
        first = workers.start()
        handle = await temporal_client.start_workflow(
            CardBatchWorkflow.run, CardBatchInput(batch_id, "104-0001", path, 30), id=workflow_id, task_queue=queue
        )
        await submit_new_batch(handle, clerk, request_id, len(nos))
        workers.kill(first)  # before the bank's files arrive
        await asyncio.sleep(3)  # the files arrive while no worker runs: stored, signalled, waiting
        workers.start()
        result = await asyncio.wait_for(handle.result(), 150)
    assert result.status == "issued" and result.counts.issued == len(nos)
    assert_one_outcome_and_one_card_each(db, batch_id, len(nos))
