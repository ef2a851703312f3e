"""Card batch deadlines on the time-skipping server: days pass in seconds."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from bank_sim.app import Bank, BankConfig
from core import search_attributes as search
from core.db import Database
from documents.fake_members import member_rows, write_csv
from models.card_batch import CardBatch, CardBatchRequest
from models.states import CardChannel
from tests.api.helpers import imported
from tests.workflows.conftest import user
from workflows.card_batch import BatchSummary, CardBatchInput, CardBatchWorkflow, EditMembers
from workflows.common import Act, ActorRef, Decision

ORG, ORG_PATH_CODE = "104-0001", "104-0001"


def org_path(db: Database) -> tuple[int, str]:
    with db.connect() as conn:
        row = conn.execute("SELECT id, path FROM organisations WHERE code = %s", (ORG,)).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def stage_batch(db: Database, clerk: ActorRef, member_nos: list[str]) -> tuple[int, int, str, str]:
    """A batch row of 104-0001 and a staged request adding ``member_nos``: (batch, request, workflow id, path)."""
    org_id, path = org_path(db)
    with db.session() as session:
        batch = CardBatch(
            org_id=org_id,
            district_code="104",
            channel=CardChannel.NORMAL,
            bank_branch="工行徐汇支行",
            workflow_id="",
            created_by=clerk.user_id,
        )
        session.add(batch)
        session.flush()
        batch.workflow_id = f"card-batch-{batch.id}"
        request = CardBatchRequest(batch_id=batch.id or 0, kind="add", member_nos=member_nos, created_by=clerk.user_id)
        session.add(request)
        session.commit()
        return batch.id or 0, request.id or 0, batch.workflow_id, path


async def submit_new_batch(
    handle: WorkflowHandle[CardBatchWorkflow, BatchSummary], clerk: ActorRef, request_id: int, expected: int
) -> None:
    edit = await handle.execute_update(CardBatchWorkflow.edit_members, EditMembers(clerk, request_id))
    assert edit.added == expected, edit
    await handle.execute_update(CardBatchWorkflow.validate, Act(clerk))
    await handle.execute_update(CardBatchWorkflow.submit, Act(clerk))


async def batch_of(
    env: WorkflowEnvironment, queue: str, db: Database, clerk: ActorRef, member_nos: list[str], days: int
) -> tuple[int, WorkflowHandle[CardBatchWorkflow, BatchSummary]]:
    batch_id, request_id, workflow_id, path = stage_batch(db, clerk, member_nos)
    handle = await env.client.start_workflow(
        CardBatchWorkflow.run, CardBatchInput(batch_id, ORG, path, days, "104"), id=workflow_id, task_queue=queue
    )
    await submit_new_batch(handle, clerk, request_id, len(member_nos))
    return batch_id, handle


async def fresh_members(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, seed: int
) -> list[str]:
    rows = list(member_rows(3, seed=seed, phone_base=18_600_000_000 + seed * 100))
    body = await imported(api, tokens["clerk@104-0001"], ORG, write_csv(tmp_path / "m.csv", rows))
    with db.connect() as conn:
        found = conn.execute("SELECT member_no FROM members WHERE source_import_id = %s", (body["id"],)).fetchall()
    return [r[0] for r in found]


async def wait_for(db: Database, sql: str, args: tuple[object, ...], expected: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with db.connect() as conn:
            row = conn.execute(sql, args).fetchone()
        if row is not None and row[0] == expected:
            return
        assert time.monotonic() < deadline, (sql, row, expected)
        await asyncio.sleep(0.05)


async def test_no_feedback_within_the_deadline_marks_the_batch_overdue_and_keeps_waiting(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    bank: Bank,
    tmp_path: Path,
) -> None:
    env, queue = skipping
    bank.config = BankConfig(delay_seconds=0.1, hold=True)  # a bank that never answers
    clerk = user(db, "clerk", ORG)
    nos = await fresh_members(api, tokens, db, tmp_path, seed=71)
    async with asyncio.timeout(60):
        batch_id, handle = await batch_of(env, queue, db, clerk, nos, days=3)
    await wait_for(db, "SELECT status FROM card_batches WHERE id = %s", (batch_id,), "submitted")
    async with asyncio.timeout(60):
        await env.sleep(timedelta(days=2))
    await wait_for(db, "SELECT overdue FROM card_batches WHERE id = %s", (batch_id,), False)
    async with asyncio.timeout(60):
        await env.sleep(timedelta(days=2))
    await wait_for(db, "SELECT overdue FROM card_batches WHERE id = %s", (batch_id,), True)
    summary = await handle.query(CardBatchWorkflow.summary)
    assert summary.status == "submitted"  # still waiting for the bank
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search.OVERDUE) is True and attributes.get(search.STATUS) == "submitted"
    assert attributes.get(search.ORG) == ORG
    with db.connect() as conn:
        audit = conn.execute(
            "SELECT action FROM audit_events WHERE entity_type = 'card_batch' AND entity_id = %s ORDER BY id",
            (str(batch_id),),
        ).fetchall()
    assert [a[0] for a in audit][-1] == "card_batch.overdue"
    await handle.terminate("test over")


async def test_revocation_decisions_on_the_time_skipping_server(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    bank: Bank,
    tmp_path: Path,
) -> None:
    env, queue = skipping
    bank.config = BankConfig(delay_seconds=0.1, hold=True)
    clerk = user(db, "clerk", ORG)
    admin = user(db, "admin", "SH")
    _, path = org_path(db)
    reviewer = ActorRef(admin.user_id, "徐汇区审核员", "reviewer", "104", path.rsplit("/", 2)[0] + "/")
    stranger = user(db, "reviewer", "101")
    nos = await fresh_members(api, tokens, db, tmp_path, seed=72)
    _, handle = await batch_of(env, queue, db, clerk, nos, days=30)
    await handle.execute_update(CardBatchWorkflow.request_revocation, Act(clerk, "填错网点"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(CardBatchWorkflow.decide_revocation, Decision(stranger, True, "同意"))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "outside_scope"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(CardBatchWorkflow.decide_revocation, Decision(reviewer, True, " "))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "reason_required"
    rejected = await handle.execute_update(CardBatchWorkflow.decide_revocation, Decision(reviewer, False, "不同意"))
    assert rejected.status == "submitted"
    await handle.execute_update(CardBatchWorkflow.request_revocation, Act(clerk, "再次申请"))
    approved = await handle.execute_update(CardBatchWorkflow.decide_revocation, Decision(reviewer, True, "同意"))
    assert approved.status == "revoked"
    result = await handle.result()
    assert result.status == "revoked"
    with db.connect() as conn:
        statuses = {r[0] for r in conn.execute("SELECT card_status FROM members WHERE member_no = ANY(%s)", (nos,))}
    assert statuses == {"none"}
