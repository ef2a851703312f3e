"""Finding stuck workflows and repairing them: what the admin API and CLI share.

Workflows are found through their search attributes (type, status, organisation and the ones
above it, awaiting role, last transition, overdue); what cannot be searched (a failing activity,
a failing workflow task, pending timers) comes from describing each one. Repairs are Temporal's
own operations: reset (retry now), pause and unpause an activity, cancel, terminate, reset the
workflow to its last good workflow task.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import (
    PauseActivityRequest,
    ResetActivityRequest,
    ResetWorkflowExecutionRequest,
    UnpauseActivityRequest,
)
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core import search_attributes as search
from core.errors import Conflict, Invalid, NotFound

IDENTITY = "unioncard-admin"
DESCRIBE_AT_ONCE = 16  # describes in flight while a page is being filled
CANCEL_WAIT = timedelta(seconds=10)  # a cancelled workflow closed by then has its rows ended by the repair
# How an admin reads a workflow execution's state (Temporal's status, lower case).
EXECUTION_LABELS = {
    "running": "运行中",
    "completed": "已完成",
    "failed": "已失败",
    "canceled": "已取消",
    "terminated": "已终止",
    "continued_as_new": "已续新",
    "timed_out": "已超时",
}


@dataclass
class Filters:
    kind: str | None = None  # claim, enrollment, card_batch, ...
    status: str | None = None
    org_id: int | None = None  # the organisation and everything below it
    stale_for: timedelta | None = None  # no transition for longer than this
    failing: bool = False  # a pending activity or workflow task that has failed at least once
    overdue: bool = False
    running: bool = True  # closed workflows too when False


@dataclass
class PendingActivity:
    activity_id: str
    activity_type: str
    state: str
    attempt: int
    maximum_attempts: int  # 0: unlimited
    paused: bool
    last_failure: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None


@dataclass
class PendingTimer:
    timer_id: str
    fires_at: datetime


@dataclass
class WorkflowRow:
    workflow_id: str
    run_id: str
    workflow_type: str  # Temporal's type name
    kind: str | None  # the search attribute: claim, enrollment, ...
    execution_status: str  # running, completed, failed, terminated, ...
    status: str | None  # the business status
    org_code: str | None
    district_code: str | None
    awaiting: str | None
    overdue: bool
    last_transition: datetime | None
    seconds_in_state: int | None
    pending_activities: list[PendingActivity] = field(default_factory=list)
    workflow_task_attempt: int = 0  # above 1: the workflow task keeps failing
    failing: bool = False  # a pending activity or the workflow task has failed (or is paused)


@dataclass
class WorkflowDetail:
    row: WorkflowRow
    start_time: datetime | None
    close_time: datetime | None
    history_length: int
    history_size_bytes: int
    pending_timers: list[PendingTimer]
    last_workflow_task_failure: str | None
    last_good_workflow_task_event: int | None  # where a reset goes back to
    failure: str | None = None  # why a failed workflow failed


def query(filters: Filters, now: datetime) -> str:
    """The visibility query of ``filters`` (values are codes and ids, quoted)."""
    parts = ["UnioncardType IS NOT NULL"]
    if filters.running:
        parts.append("ExecutionStatus = 'Running'")
    if filters.kind:
        parts.append(f"{search.WORKFLOW_TYPE.name} = {_quote(filters.kind)}")
    if filters.status:
        parts.append(f"{search.STATUS.name} = {_quote(filters.status)}")
    if filters.org_id is not None:
        parts.append(f"{search.ORG_ANCESTORS.name} = {_quote(str(filters.org_id))}")
    if filters.stale_for is not None:
        before = (now - filters.stale_for).astimezone(UTC).isoformat().replace("+00:00", "Z")
        parts.append(f"{search.LAST_TRANSITION.name} < {_quote(before)}")
    if filters.overdue:
        parts.append(f"{search.OVERDUE.name} = true")
    return " AND ".join(parts)


def _quote(value: str) -> str:
    if "'" in value or "\\" in value:
        raise Invalid("invalid_filter", "筛选条件含有不允许的字符", details={"value": value})
    return f"'{value}'"


async def find(
    client: Client, filters: Filters, *, size: int, page_token: bytes | None = None, scan_limit: int = 2000
) -> tuple[list[WorkflowRow], bytes | None]:
    """One page of rows matching ``filters``, newest first, and the token of the next page.
    With ``failing`` the visibility pages are scanned (up to ``scan_limit`` workflows per call)
    and only workflows with a failing activity or workflow task are kept."""
    now = datetime.now(UTC)
    rows: list[WorkflowRow] = []
    token = page_token or b""
    scanned = 0
    gate = asyncio.Semaphore(DESCRIBE_AT_ONCE)
    while len(rows) < size and scanned < scan_limit:
        executions = client.list_workflows(query(filters, now), page_size=size, next_page_token=token or None)
        await executions.fetch_next_page()
        page = list(executions.current_page or [])
        token = executions.next_page_token or b""
        scanned += len(page)

        async def one(workflow_id: str, run_id: str | None) -> WorkflowRow | None:
            async with gate:
                try:
                    described = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
                except RPCError as exc:
                    if exc.status == RPCStatusCode.NOT_FOUND:
                        return None  # closed and gone since it was listed
                    raise
            return await row_of(client, described, now)

        found = await asyncio.gather(*(one(e.id, e.run_id) for e in page))
        rows += [r for r in found if r is not None and (r.failing or not filters.failing)]
        if not token:
            break
    return rows, token or None


async def row_of(client: Client, d: WorkflowExecutionDescription, now: datetime) -> WorkflowRow:
    attrs = d.typed_search_attributes
    last = attrs.get(search.LAST_TRANSITION)
    raw = d.raw_description
    pending = [
        PendingActivity(
            activity_id=a.activity_id,
            activity_type=a.activity_type.name,
            state=_enum_name(a.DESCRIPTOR.fields_by_name["state"], a.state, "PENDING_ACTIVITY_STATE_"),
            attempt=a.attempt,
            maximum_attempts=a.maximum_attempts,
            paused=a.paused,
            last_failure=await _failure_text(client, a.last_failure) if a.HasField("last_failure") else None,
            last_attempt_at=_time(a.last_attempt_complete_time if a.HasField("last_attempt_complete_time") else None),
            next_attempt_at=_time(a.next_attempt_schedule_time if a.HasField("next_attempt_schedule_time") else None),
        )
        for a in raw.pending_activities
    ]
    wft_attempt = raw.pending_workflow_task.attempt if raw.HasField("pending_workflow_task") else 0
    return WorkflowRow(
        workflow_id=d.id,
        run_id=d.run_id,
        workflow_type=d.workflow_type,
        kind=attrs.get(search.WORKFLOW_TYPE),
        execution_status=(d.status or WorkflowExecutionStatus.RUNNING).name.lower(),
        status=attrs.get(search.STATUS),
        org_code=attrs.get(search.ORG),
        district_code=attrs.get(search.DISTRICT),
        awaiting=attrs.get(search.AWAITING) or None,
        overdue=bool(attrs.get(search.OVERDUE)),
        last_transition=last,
        seconds_in_state=int((now - last).total_seconds()) if last else None,
        pending_activities=pending,
        workflow_task_attempt=wft_attempt,
        failing=wft_attempt > 1 or any(a.attempt > 1 or a.last_failure or a.paused for a in pending),
    )


async def _describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription:
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound("workflow_not_found", f"流程 {workflow_id} 不存在") from None
        raise


async def detail(client: Client, workflow_id: str) -> WorkflowDetail:
    described = await _describe(client, workflow_id)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    timers: dict[str, PendingTimer] = {}
    last_good: int | None = None
    failure: str | None = None
    wft_failure: str | None = None
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_TIMER_STARTED:
            a = event.timer_started_event_attributes
            fires = event.event_time.ToDatetime(UTC) + a.start_to_fire_timeout.ToTimedelta()
            timers[a.timer_id] = PendingTimer(a.timer_id, fires)
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            timers.pop(event.timer_fired_event_attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
            timers.pop(event.timer_canceled_event_attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            last_good = event.event_id
            wft_failure = None
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            wft_failure = await _failure_text(client, event.workflow_task_failed_event_attributes.failure)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = await _failure_text(client, event.workflow_execution_failed_event_attributes.failure)
    info = described.raw_description.workflow_execution_info
    return WorkflowDetail(
        row=await row_of(client, described, datetime.now(UTC)),
        start_time=described.start_time,
        close_time=described.close_time,
        history_length=info.history_length,
        history_size_bytes=info.history_size_bytes,
        pending_timers=sorted(timers.values(), key=lambda t: t.fires_at),
        last_workflow_task_failure=wft_failure,
        last_good_workflow_task_event=last_good,
        failure=failure,
    )


REPAIRS = ("retry", "pause", "unpause", "cancel", "terminate", "reset")


async def repair(
    client: Client, namespace: str, workflow_id: str, action: str, reason: str, activity_id: str | None = None
) -> dict[str, Any]:
    """Apply one repair; returns what was done (for the audit row and the answer)."""
    if action not in REPAIRS:
        raise Invalid("unknown_repair", f"未知的修复操作：{action}（可用：{', '.join(REPAIRS)}）")
    if action == "reset":  # the history says where the last good workflow task ended
        d = await detail(client, workflow_id)
        row, last_good = d.row, d.last_good_workflow_task_event
    else:
        row, last_good = await row_of(client, await _describe(client, workflow_id), datetime.now(UTC)), None
    if row.execution_status != "running" and action != "reset":  # a failed run can be reset and run again
        state = EXECUTION_LABELS.get(row.execution_status, row.execution_status)
        raise Conflict("workflow_closed", f"流程已结束（{state}），只能重置")
    execution = WorkflowExecution(workflow_id=workflow_id)
    service = client.workflow_service
    done: dict[str, Any] = {"action": action, "workflow_id": workflow_id}
    if action in ("retry", "pause", "unpause"):
        activity = _activity(row, activity_id)
        done["activity_id"], done["activity_type"] = activity.activity_id, activity.activity_type
        await _repair_activity(client, namespace, execution, action, activity.activity_id, reason)
    elif action == "cancel":
        await client.get_workflow_handle(workflow_id).cancel()
        done["closed"] = await _closed(client, workflow_id, CANCEL_WAIT)
    elif action == "terminate":
        await client.get_workflow_handle(workflow_id).terminate(reason=reason)
        done["closed"] = True
    else:  # reset
        if last_good is None:
            raise Conflict("nothing_to_reset", "流程还没有成功处理过的工作流任务，不能重置")
        answer = await service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=row.run_id),
                reason=reason[:500],
                workflow_task_finish_event_id=last_good,
                request_id=str(uuid.uuid4()),
                reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_ALL_ELIGIBLE,
                identity=IDENTITY,
            )
        )
        done["new_run_id"] = answer.run_id
        done["reset_to_event"] = last_good
    return done


async def _repair_activity(
    client: Client, namespace: str, execution: WorkflowExecution, action: str, activity_id: str, reason: str
) -> None:
    """Retry (at once, heartbeat reset), pause or unpause one activity of a running workflow."""
    service = client.workflow_service
    if action == "retry":
        await service.reset_activity(
            ResetActivityRequest(
                namespace=namespace, execution=execution, identity=IDENTITY, id=activity_id,
                reset_heartbeat=True,
            )
        )  # fmt: skip
    elif action == "pause":
        await service.pause_activity(
            PauseActivityRequest(
                namespace=namespace, execution=execution, identity=IDENTITY, id=activity_id,
                reason=reason[:200], request_id=str(uuid.uuid4()),
            )
        )  # fmt: skip
    else:
        await service.unpause_activity(
            UnpauseActivityRequest(
                namespace=namespace, execution=execution, identity=IDENTITY, id=activity_id,
                reset_attempts=True,
            )
        )  # fmt: skip


async def _closed(client: Client, workflow_id: str, within: timedelta) -> bool:
    """Whether the workflow has closed within ``within`` (a cancelled one ends at its next step)."""
    deadline = asyncio.get_running_loop().time() + within.total_seconds()
    while True:
        described = await client.get_workflow_handle(workflow_id).describe()
        if described.status not in (None, WorkflowExecutionStatus.RUNNING):
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.2)


def _activity(row: WorkflowRow, activity_id: str | None) -> PendingActivity:
    if not row.pending_activities:
        raise Conflict("no_pending_activity", "该流程当前没有进行中的活动")
    if activity_id is None:
        if len(row.pending_activities) > 1:
            ids = [a.activity_id for a in row.pending_activities]
            raise Invalid("activity_required", "该流程有多个进行中的活动，请指定 activity_id", details={"ids": ids})
        return row.pending_activities[0]
    for activity in row.pending_activities:
        if activity.activity_id == activity_id:
            return activity
    raise NotFound("activity_not_found", f"没有进行中的活动 {activity_id}")


async def _failure_text(client: Client, failure: Failure) -> str:
    """A failure's message, decoded when the payload codec encrypted it."""
    try:
        exc: BaseException | None = await client.data_converter.decode_failure(failure)
    except Exception:  # an undecodable failure still shows something
        return failure.message[:500]
    messages: list[str] = []
    while exc is not None and len(messages) < 5:  # "Activity task failed: <what the activity said>"
        messages.append(str(exc))
        exc = exc.__cause__
    return ": ".join(m for m in messages if m)[:500]


def _time(ts: Timestamp | None) -> datetime | None:
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(UTC)


def _enum_name(fd: Any, value: int, prefix: str) -> str:
    name: str = fd.enum_type.values_by_number[value].name
    return name.removeprefix(prefix).lower()
