"""Failures of activities, sorted once for every activity of the worker.

A failure caused by the data an activity was given (a constraint it violates, a value that
cannot be stored, a row that does not exist) fails the same way on every attempt: it becomes a
non-retryable ``ApplicationError`` with a stable type and a message a clerk understands, so an
update answers at once with a coded 4xx and a workflow never retries it forever. Everything else
(a lost connection, a serialization failure or deadlock, a timeout, the bank unreachable) is left
as it is and retried by the activity's bounded retry policy (``workflows.common``).

Messages and details carry no data values (PostgreSQL's own messages may quote a row, an ID
number included): only the kind of failure, the SQLSTATE and the constraint, table or column.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any, TypeVar

import psycopg
import sqlalchemy.exc
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.logging import get_logger

log = get_logger("worker.activities")
T = TypeVar("T")

DATA_INVALID = "data_invalid"  # 422: a value that cannot be stored
DATA_CONFLICT = "data_conflict"  # 409: a constraint the change would break
RECORD_MISSING = "record_missing"  # 404: a row the work needs does not exist

_MESSAGES = {
    DATA_INVALID: "提交的数据中有无法保存的内容（如不可见字符、超长文字或超出范围的数字），未作任何更改",
    DATA_CONFLICT: "提交的数据与已有记录冲突，未作任何更改",
    RECORD_MISSING: "所需的记录不存在（可能已被删除），未作任何更改",
}


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # what PostgreSQL's text refuses: NUL, lone surrogates


def storable(text: str) -> str:
    """``text`` with what PostgreSQL cannot store replaced (U+FFFD), for the audit text of a step
    a workflow has made already: its record must not fail after the move."""
    return _UNSTORABLE.sub("\ufffd", text)


class RowMissing(LookupError):
    """A row an activity needs is not there (a stale id, a deleted record)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def found(row: T | None, what: str) -> T:
    """``row``, or RowMissing naming ``what`` (a table or a record, never a value)."""
    if row is None:
        raise RowMissing(what)
    return row


def data_failure(exc: BaseException) -> ApplicationError | None:
    """The non-retryable error ``exc`` stands for when the data caused it; None when it may pass."""
    if isinstance(exc, ApplicationError):
        return None  # the activity's own answer, retryable or not as it says
    cause: BaseException = exc
    if isinstance(exc, sqlalchemy.exc.StatementError) and isinstance(exc.orig, BaseException):
        cause = exc.orig
    kind = _kind(cause)
    if kind is None:
        return None
    details: dict[str, Any] = {"reason": type(cause).__name__}
    if isinstance(cause, psycopg.Error):
        diag = cause.diag
        details |= {
            "sqlstate": cause.sqlstate,
            "table": diag.table_name,
            "column": diag.column_name,
            "constraint": diag.constraint_name,
        }
    elif isinstance(cause, RowMissing):
        details["record"] = cause.what
    details = {k: v for k, v in details.items() if v is not None}
    return ApplicationError(_MESSAGES[kind], details, type=kind, non_retryable=True)


def _kind(exc: BaseException) -> str | None:
    if isinstance(exc, psycopg.IntegrityError | sqlalchemy.exc.IntegrityError):
        return DATA_CONFLICT
    if isinstance(exc, RowMissing | sqlalchemy.exc.NoResultFound):
        return RECORD_MISSING
    if isinstance(exc, json.JSONDecodeError):
        return None  # a garbled answer from a server that is failing: worth another try
    if isinstance(exc, psycopg.DataError | sqlalchemy.exc.DataError | ValueError | OverflowError):
        return DATA_INVALID  # UnicodeEncodeError (a lone surrogate) is a ValueError
    if isinstance(exc, decimal.InvalidOperation):
        return DATA_INVALID
    return None


class DataFailures(Interceptor):
    """Register with ``Worker(..., interceptors=[..., DataFailures()])``: every activity, local
    ones included, fails without retries when its data is at fault."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _SortFailures(next)


class _SortFailures(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except Exception as exc:
            refused = data_failure(exc)
            if refused is None:
                raise
            info = activity.info()
            log.warning(
                "activity refused its data", activity=info.activity_type, workflow_id=info.workflow_id,
                error_type=refused.type, details=refused.details[0] if refused.details else None,
            )  # fmt: skip
            raise refused from None  # the original's text may quote the data: it stays here
