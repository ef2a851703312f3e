"""The activity interceptor: a sync activity, run in the worker's thread pool, logs with its
workflow id, run id, activity type and attempt; a local activity too; nothing leaks out."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core.log_context import ActivityLogContext
from core.logging import configure_logging, get_logger

_FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=3)


@activity.defn
def context_seen(note: str) -> dict[str, Any]:
    """Logs a line, fails its first attempt, and answers the log context its thread sees."""
    get_logger("test").info("in the activity", note=note)
    if activity.info().attempt == 1:
        raise RuntimeError("first attempt fails")
    return {**structlog.contextvars.get_contextvars(), "thread": threading.current_thread().name}


@workflow.defn(sandboxed=False)
class LogContextWorkflow:
    @workflow.run
    async def run(self) -> list[dict[str, Any]]:
        remote = await workflow.execute_activity(
            context_seen, "remote", start_to_close_timeout=timedelta(seconds=10), retry_policy=_FAST_RETRY
        )
        local = await workflow.execute_local_activity(
            context_seen, "local", start_to_close_timeout=timedelta(seconds=10), retry_policy=_FAST_RETRY
        )
        return [remote, local]


async def test_activity_lines_carry_workflow_run_activity_and_attempt(
    temporal_env: WorkflowEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"log-context-{uuid.uuid4().hex[:6]}"
    configure_logging("INFO", json=True)
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ctx-test") as executor:
            async with Worker(
                temporal_env.client,
                task_queue=queue,
                workflows=[LogContextWorkflow],
                activities=[context_seen],
                activity_executor=executor,
                workflow_runner=UnsandboxedWorkflowRunner(),
                interceptors=[ActivityLogContext()],
            ):
                handle = await temporal_env.client.start_workflow(
                    LogContextWorkflow.run, id=f"log-context-{uuid.uuid4().hex[:6]}", task_queue=queue
                )
                remote, local = await handle.result()
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger().handlers.clear()
    run_id = handle.result_run_id
    for seen in (remote, local):
        assert seen["workflow_id"] == handle.id and seen["run_id"] == run_id
        assert seen["activity"] == "context_seen" and seen["attempt"] == 2
        assert seen["thread"].startswith("ctx-test")  # run in the pool, where the context was bound
    logged = [line for line in lines if line["event"] == "in the activity"]
    assert [(line["note"], line["attempt"]) for line in logged] == [("remote", 1), ("remote", 2), ("local", 1),
                                                                     ("local", 2)]  # fmt: skip
    assert all(line["workflow_id"] == handle.id and line["run_id"] == run_id for line in logged)
    assert "workflow_id" not in structlog.contextvars.get_contextvars()
