"""The worker's log context: every line an activity logs carries its workflow id, run id,
activity type and attempt.

The interceptor binds them into structlog's context variables around the activity. A sync
activity runs in the worker's thread pool: the SDK runs it inside a copy of the context of the
call that submits it (``contextvars.copy_context().run``), which is taken after the binding, so
the thread sees them too. Each activity runs in an asyncio task of its own, and the binding is
undone when it ends. Workflows are left alone: their code must stay deterministic and logs
through ``workflow.logger``.
"""

from __future__ import annotations

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


class ActivityLogContext(Interceptor):
    """Register with ``Worker(..., interceptors=[ActivityLogContext()])``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        with structlog.contextvars.bound_contextvars(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            activity=info.activity_type,
            attempt=info.attempt,
        ):
            return await self.next.execute_activity(input)
