"""Why a card batch, enrollment or claim waits: an activity of its workflow that has failed and
is being retried, said in Chinese by what the activity does, with its attempt and when the next
one is.

What is pending comes from describing the workflow (``services.workflow_admin.row_of``, as the admin
API reads it). A describe is made only for a row whose status says its workflow may be doing work
of its own (sending to the bank, building a roster ...), all of a page's describes together within
``LOOKUP_SECONDS``; a workflow not described by then, or Temporal not answering, leaves the view
without ``waiting`` rather than failing or slowing it. A clerk never sees the failure's text (it
can hold anything): the message says what is being retried; admins also get the decoded failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from pydantic import BaseModel, Field
from temporalio.client import Client

from core.auth import Actor
from core.logging import get_logger
from services import workflow_admin

log = get_logger("services.waiting")
LOOKUP_SECONDS = 2.0  # every describe of one answer together
DESCRIBE_AT_ONCE = 8
TASK_ROWS = 200  # rows of /tasks described at most, most recently changed first

# Statuses in which the workflow itself works (activities), not a person: only these are described.
MAY_WAIT: dict[str, frozenset[str]] = {
    "card_batch": frozenset({"submitted", "bank_feedback"}),
    "claim": frozenset({"applied", "approved", "payout_pending", "payout_failed"}),
    "enrollment": frozenset({"draft", "submitted", "approved", "paid", "filed"}),
}

# What each activity does, as the clerk reads it ("...，正在重试（第 5 次）").
ACTIVITY_TEXTS = {
    "send_batch_to_bank": "银行暂时无法接收",
    "send_payout": "银行暂时无法受理给付付款",
    "block_card": "银行暂时无法办理挂失",
    "request_card_replacement": "银行暂时无法受理补卡",
    "apply_bank_files": "银行反馈暂时无法登记",
    "apply_payout_result": "银行付款结果暂时无法登记",
    "check_claim": "给付资格暂时无法核验",
    "build_roster": "参保名单暂时无法生成",
    "edit_roster": "参保名单暂时无法修改",
    "price_enrollment": "参保费用暂时无法计算",
    "record_payment": "缴费暂时无法登记",
    "check_transfer": "银行转账暂时无法核对",
    "stored_transfers": "银行转账暂时无法核对",
    "set_coverage": "保障期暂时无法登记",
    "file_enrollments": "参保汇总暂时无法报送",
    "check_batch_members": "批次成员暂时无法校验",
    "assign_batch_number": "批次号暂时无法分配",
    "apply_member_edit": "批次成员暂时无法修改",
    "release_batch_members": "批次成员暂时无法释放",
    "register_cards": "年度注册暂时无法登记",
    "lapse_unregistered_cards": "未注册卡暂时无法处理",
    "open_registrations": "年度注册暂时无法开启",
    "signal_enrollments": "相关参保流程暂时无法通知",
    "tell_claims_of_new_card": "相关给付申请暂时无法通知",
    "record_transition": "处理结果暂时无法保存",
    "project_step": "处理结果暂时无法保存",
    "project_steps": "处理结果暂时无法保存",
}
OTHER_TEXT = "后台处理暂时未能完成"


class Waiting(BaseModel):
    """An activity of the workflow that has failed at least once and is retried."""

    message: str = Field(description="中文说明：在重试什么、第几次。")
    activity: str = Field(description="The activity's type (a code), e.g. send_batch_to_bank.")
    attempt: int = Field(description="The attempt under way or next (2: the first retry).")
    next_attempt_at: datetime | None = Field(
        description="When the next attempt starts; null while an attempt is under way or retries are paused."
    )
    paused: bool = Field(False, description="An admin has paused the retries.")
    failure: str | None = Field(None, description="The last failure, decoded (admins only).")


def message(activity_type: str, attempt: int, paused: bool) -> str:
    what = ACTIVITY_TEXTS.get(activity_type, OTHER_TEXT)
    if paused:
        return f"{what}，已暂停自动重试（已尝试 {attempt} 次），请联系管理员"
    return f"{what}，正在重试（第 {attempt} 次）"


def waiting_of(row: workflow_admin.WorkflowRow, admin: bool) -> Waiting | None:
    """The first pending activity that has failed (or was paused), said for a clerk or an admin."""
    for a in row.pending_activities:
        if a.attempt > 1 or a.last_failure or a.paused:
            return Waiting(
                message=message(a.activity_type, a.attempt, a.paused),
                activity=a.activity_type,
                attempt=a.attempt,
                next_attempt_at=None if a.paused else a.next_attempt_at,
                paused=a.paused,
                failure=a.last_failure if admin else None,
            )
    return None


def may_wait(kind: str, status: str) -> bool:
    return status in MAY_WAIT.get(kind, frozenset())


# The Temporal client, connected on first use: a view is answered without ``waiting`` when it
# cannot be had in time.
TemporalSource = Callable[[], Awaitable[Client]]


async def _client(temporal: TemporalSource, within: float) -> Client | None:
    try:
        return await asyncio.wait_for(temporal(), within)
    except Exception:  # Temporal away: the views are shown without it
        return None


async def lookup(temporal: TemporalSource, actor: Actor, workflow_ids: Sequence[str]) -> dict[str, Waiting]:
    """The failing activity of each of ``workflow_ids`` that has one, as far as Temporal answers
    within ``LOOKUP_SECONDS``."""
    if not workflow_ids:
        return {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOOKUP_SECONDS
    client = await _client(temporal, LOOKUP_SECONDS)
    if client is None:
        return {}
    gate = asyncio.Semaphore(DESCRIBE_AT_ONCE)
    now = datetime.now(UTC)

    async def one(workflow_id: str) -> tuple[str, Waiting | None]:
        async with gate:
            described = await client.get_workflow_handle(workflow_id).describe()
        return workflow_id, waiting_of(await workflow_admin.row_of(client, described, now), actor.is_admin)

    tasks = [asyncio.ensure_future(one(w)) for w in dict.fromkeys(workflow_ids)]
    done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
    for task in pending:
        task.cancel()
    found: dict[str, Waiting] = {}
    failed = 0
    for task in done:
        if task.exception() is not None:
            failed += 1
            continue
        workflow_id, waiting = task.result()
        if waiting is not None:
            found[workflow_id] = waiting
    if pending or failed:
        log.info("waiting lookup incomplete", unanswered=len(pending), failed=failed)
    return found


class _View(Protocol):
    waiting: Waiting | None


V = TypeVar("V", bound=_View)


async def fill(temporal: TemporalSource, actor: Actor, kind: str, rows: Sequence[tuple[V, str, str]]) -> list[V]:
    """``rows`` are (view, workflow id, status): sets each view's ``waiting`` where its workflow
    is retrying a failed activity; returns the views."""
    wanted = [workflow_id for _, workflow_id, status in rows if workflow_id and may_wait(kind, status)]
    found = await lookup(temporal, actor, wanted)
    for view, workflow_id, _ in rows:
        view.waiting = found.get(workflow_id)
    return [view for view, _, _ in rows]
