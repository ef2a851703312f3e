"""Calling workflow updates from HTTP: an RPC timeout, and Temporal's refusals as HTTP errors."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import timedelta
from typing import Annotated, Any

from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from sqlmodel import Session
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.auth import Actor
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from core.logging import get_logger
from workflows.common import ActorRef

log = get_logger("api.workflows")
# The workflow whose update this request's caller has had accepted: a database failure after it
# must not tell them to try again (api.app answers 202).
accepted_update: ContextVar[str | None] = ContextVar("accepted_update", default=None)

_STATUS = {
    "role_not_allowed": Forbidden,
    "outside_scope": Forbidden,
    "not_allowed_now": Conflict,
    "members_unavailable": Conflict,
    "members_not_passed": Conflict,
    "batch_empty": Conflict,
    "reason_required": Invalid,
    "wrong_level": Forbidden,
    "outside_window": Conflict,
    "roster_empty": Conflict,
    "amount_mismatch": Invalid,
    "deadline_passed": Conflict,
    "unknown_protection_type": Invalid,
    "protection_type_fixed": Conflict,
    "nothing_to_file": Conflict,
    "programme_year_missing": Conflict,
    "own_application": Forbidden,
    "invalid_decision": Invalid,
    "cards_unavailable": Conflict,
    "stale_decision": Conflict,  # a decision for a step that is no longer the current one
    "already_decided": Forbidden,  # the account decided another level of the same case
    "data_invalid": Invalid,  # activities.failures: the data was refused where it was to be stored
    "data_conflict": Conflict,
    "record_missing": NotFound,
}


# What every decision sends: the step it decides, as the view of the batch, enrollment, filing or
# claim shows it (``step``). A decision for a step that is no longer current answers 409 stale_decision.
DecisionStep = Annotated[
    int,
    Field(
        ge=0,
        le=2**31 - 1,
        description="The step decided: the `step` of the view the decision was made on (409 stale_decision "
        "when it is no longer the current one).",
    ),
]


def actor_ref(actor: Actor) -> ActorRef:
    return ActorRef(actor.user_id, actor.name, actor.role.value, actor.org_code, actor.org_path)


def release(session: Session | None) -> None:
    """End the request's read transaction so that its pooled connection is not held while
    Temporal answers (objects reload on their next use)."""
    if session is not None:
        session.commit()


async def start_workflow(
    session: Session, client: Client, run: Any, arg: Any, *, undo: Callable[[], None] | None = None, **options: Any
) -> Any:
    """Start a workflow without holding a database connection while Temporal answers. When the
    start fails, ``undo`` removes what was written for the workflow (no row is left without its
    workflow) and the caller is told the workflow service is unavailable."""
    release(session)
    try:
        return await client.start_workflow(run, arg, **options)
    except WorkflowAlreadyStartedError:
        raise
    except (RPCError, RuntimeError) as exc:  # unreachable, or its answer lost
        log.warning("workflow not started", workflow_id=options.get("id"), error_type=type(exc).__name__)
        if undo is not None:
            await run_in_threadpool(undo)
            if not (isinstance(exc, RPCError) and exc.status == RPCStatusCode.UNAVAILABLE):  # perhaps started
                await _abandon(client, options.get("id"))
        raise Unavailable("temporal_unavailable", "工作流服务暂时不可用，未做任何更改，请稍后再试") from None


def row_remover(session: Session, model: Any, key: Any) -> Callable[[], None]:
    """An ``undo`` for ``start_workflow``: delete the row made for the workflow."""

    def undo() -> None:
        session.rollback()
        row = session.get(model, key)
        if row is not None:
            session.delete(row)
            session.commit()

    return undo


async def _abandon(client: Client, workflow_id: str | None) -> None:
    """A start whose answer was lost may have happened: that workflow has no row any more."""
    if workflow_id:
        with contextlib.suppress(RPCError, RuntimeError, TimeoutError):
            handle = client.get_workflow_handle(workflow_id)
            await asyncio.wait_for(handle.terminate("its row was removed: the start's answer was lost"), 3)


async def run_update(
    client: Client,
    workflow_id: str,
    update: Any,
    arg: Any,
    *,
    rpc_seconds: float,
    result_type: Any,
    session: Session | None = None,
) -> Any:
    """Execute an update and wait for its result; a refusal becomes a 4xx with the workflow's code.
    A decision (an ``arg`` naming its ``step``) that finds its workflow ended is stale: the step it
    decides was the last one, decided by another message (a double click on a rejection)."""
    release(session)
    handle = client.get_workflow_handle(workflow_id)
    try:
        with _refusals(workflow_id):
            return await handle.execute_update(
                update,
                args=[] if arg is None else [arg],
                result_type=result_type,
                rpc_timeout=timedelta(seconds=rpc_seconds),
            )
    except Conflict as exc:
        if exc.code == "workflow_closed" and getattr(arg, "step", None) is not None:
            raise Conflict("stale_decision", "该事项已被处理，请刷新后重试", details={"step": None}) from None
        raise


async def start_with_update(
    client: Client,
    run: Any,
    arg: Any,
    update: Any,
    *,
    id: str,  # Temporal's name for a workflow id
    task_queue: str,
    rpc_seconds: float,
    result_type: Any,
) -> Any:
    """Start a workflow and wait for its first answer in one call (update-with-start).

    Returns the update's result, or None when the workflow runs but has not answered within
    ``rpc_seconds`` (it carries on). Raises Unavailable only when the workflow is not running."""
    start = WithStartWorkflowOperation(
        run, arg, id=id, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
    )
    with contextlib.suppress(Unavailable), _refusals(id):
        return await client.execute_update_with_start_workflow(
            update, start_workflow_operation=start, result_type=result_type, rpc_timeout=timedelta(seconds=rpc_seconds)
        )
    # No answer in time: the start may or may not have happened. Starting again with the same id
    # is harmless (the running workflow is kept) and tells the two apart.
    try:
        await client.start_workflow(
            run, arg, id=id, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            rpc_timeout=timedelta(seconds=rpc_seconds),
        )  # fmt: skip
    except RPCError:
        raise Unavailable("temporal_unavailable", "流程服务暂不可用，请稍后再试") from None
    return None


@contextlib.contextmanager
def _refusals(workflow_id: str) -> Iterator[None]:
    """Temporal's refusals and timeouts as HTTP errors; the round trip's time in the log."""
    start = time.perf_counter()
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError):
            cause = cause.cause  # an activity's refusal (e.g. an unknown protection type)
            if not cause.non_retryable and cause.type not in _STATUS:  # retried until its policy gave up
                raise Unavailable("work_unavailable", "后台处理暂时无法完成，请稍后再试") from None
        if isinstance(cause, ApplicationError):
            error_type = _STATUS.get(cause.type or "", Conflict)
            details = cause.details[0] if cause.details else None  # e.g. the refused card numbers
            raise error_type(cause.type or "refused", cause.message, details=details) from None
        raise Unavailable("work_unavailable", "后台处理暂时无法完成，请稍后再试") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise Unavailable("worker_unavailable", "工作流暂时无人处理，请稍后再试") from None
    except RPCError as exc:
        if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED, RPCStatusCode.UNAVAILABLE):
            raise Unavailable("worker_unavailable", "工作流暂时无人处理，请稍后再试") from None
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Conflict("workflow_closed", "该流程已结束") from None
        raise
    else:
        accepted_update.set(workflow_id)
    finally:
        log.info("workflow update", workflow_id=workflow_id, ms=round((time.perf_counter() - start) * 1000, 1))
