"""Two workers on one task queue, as two processes: the one that holds a card batch is killed
(SIGKILL) while the batch waits for the bank, and the other one, already running, finishes it:
the batch is issued, every member has exactly one outcome and at most one card."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from bank_sim.app import Bank, BankConfig
from core.db import Database
from core.settings import Settings
from tests.workflows.conftest import user
from tests.workflows.test_card_batch_timers import fresh_members, stage_batch, submit_new_batch
from tests.workflows.test_card_batch_worker_loss import assert_one_outcome_and_one_card_each
from tests.workflows.worker_processes import WorkerProcesses
from workflows.card_batch import BatchSummary, CardBatchInput, CardBatchWorkflow

ORG = "104-0001"


def identity(proc: subprocess.Popen[bytes]) -> str:
    """The Temporal identity of a worker process (the SDK's default: pid@host)."""
    return f"{proc.pid}@{socket.gethostname()}"


async def pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> set[str]:
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind)
    )
    return {p.identity for p in answer.pollers}


async def until_both_poll(client: Client, queue: str, workers: list[subprocess.Popen[bytes]]) -> None:
    """Both workers have polled the queue for workflow tasks and for activities. The server lists
    the pollers of the queue's root partition; a poll parked on another partition waits there up
    to a minute before it polls again, so what is seen is gathered over time."""
    wanted = {identity(w) for w in workers}
    seen_workflow: set[str] = set()
    seen_activity: set[str] = set()
    deadline = time.monotonic() + 90
    while True:
        seen_workflow |= await pollers(client, queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
        seen_activity |= await pollers(client, queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        if wanted <= seen_workflow & seen_activity:
            return
        assert all(w.poll() is None for w in workers), "a worker exited while starting"
        assert time.monotonic() < deadline, (wanted, seen_workflow, seen_activity)
        await asyncio.sleep(0.2)


def batch_no(db: Database, batch_id: int) -> str | None:
    with db.connect() as conn:
        row = conn.execute("SELECT batch_no FROM card_batches WHERE id = %s", (batch_id,)).fetchone()
    return None if row is None else row[0]


async def until_waiting_for_the_bank(
    handle: WorkflowHandle[CardBatchWorkflow, BatchSummary], bank: Bank, db: Database, batch_id: int
) -> list[HistoryEvent]:
    """The bank has the batch and the workflow sleeps until its files come: no activity and no
    workflow task in flight. Answers the history up to there."""
    deadline = time.monotonic() + 20
    while True:
        number = batch_no(db, batch_id)
        if number is not None and number in bank.batches:
            raw = (await handle.describe()).raw_description
            events = [e async for e in handle.fetch_history_events()]
            idle = not raw.pending_activities and not raw.HasField("pending_workflow_task")
            if idle and len(events) == raw.workflow_execution_info.history_length:
                assert not [e for e in bank.sent if e.get("batch_no") == number], "the bank answered too soon"
                return events
        assert time.monotonic() < deadline, "the batch never reached the bank"
        await asyncio.sleep(0.1)


def completed_by(events: list[HistoryEvent], history: list[HistoryEvent]) -> list[str]:
    """The identities of the workers that completed the workflow tasks among ``events``."""
    started = {
        e.event_id: e.workflow_task_started_event_attributes.identity
        for e in history
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    }
    done = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    return [
        started[e.workflow_task_completed_event_attributes.started_event_id] for e in events if e.event_type == done
    ]


async def test_the_other_running_worker_finishes_the_batch_of_a_killed_one(
    settings: Settings,
    db: Database,
    temporal_client: Client,
    live_api: str,
    bank: Bank,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for port in ("UNIONCARD_WORKER_METRICS_PORT", "UNIONCARD_TEMPORAL_METRICS_PORT"):
        monkeypatch.setenv(port, "0")  # two workers on one machine: no metrics ports to share
    bank.config = BankConfig(delay_seconds=6, files=3, duplicate_callbacks=True)
    nos = await fresh_members(api, tokens, db, tmp_path, seed=83)
    clerk = user(db, "clerk", ORG)
    batch_id, request_id, workflow_id, path = stage_batch(db, clerk, nos)
    queue = f"two-{uuid.uuid4().hex[:6]}"
    with WorkerProcesses(settings, queue) as processes:
        workers = [processes.start(), processes.start()]
        try:
            await until_both_poll(temporal_client, queue, workers)
            handle = await temporal_client.start_workflow(
                CardBatchWorkflow.run, CardBatchInput(batch_id, ORG, path, 30), id=workflow_id, task_queue=queue
            )
            await submit_new_batch(handle, clerk, request_id, len(nos))
            before = await until_waiting_for_the_bank(handle, bank, db, batch_id)
            holder = completed_by(before, before)[-1]  # the worker that has the batch cached
            victim = next(w for w in workers if identity(w) == holder)
            survivor = next(w for w in workers if w is not victim)
            processes.kill(victim)  # the bank's acknowledgement and three files still to come
            result = await asyncio.wait_for(handle.result(), 45)
            assert survivor.poll() is None, "the surviving worker exited"
            history = [e async for e in handle.fetch_history_events()]
        finally:
            bank.config = BankConfig(delay_seconds=0.1)
    assert result.status == "issued" and result.counts.issued == len(nos)
    after = completed_by(history[len(before) :], history)
    assert after and set(after) == {identity(survivor)}, (after, identity(survivor))
    assert_one_outcome_and_one_card_each(db, batch_id, len(nos))
