"""Member import: a stored file processed in committed chunks, resumable after any crash.

The workflow is thin: prepare the file, run slices of chunks until the file is done, then
record the outcome. Progress and rows live in the database; the history holds only counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError


@dataclass
class ImportInput:
    import_id: int
    heartbeat_seconds: int = 30  # a killed worker's slice is retried elsewhere after this


@dataclass
class SliceResult:
    done: bool
    processed_rows: int
    accepted: int
    existing: int
    rejected: int


@dataclass
class FinishInput:
    import_id: int
    failure: str | None = None


@dataclass
class ImportSummary:
    import_id: int
    status: str
    processed_rows: int = 0
    accepted: int = 0
    existing: int = 0
    rejected: int = 0


_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=20)


def import_workflow_id(import_id: int) -> str:
    return f"member-import-{import_id}"


@workflow.defn
class MemberImportWorkflow:
    @workflow.init
    def __init__(self, inp: ImportInput) -> None:
        self.import_id = inp.import_id
        self.last = SliceResult(done=False, processed_rows=0, accepted=0, existing=0, rejected=0)

    @workflow.query
    def progress(self) -> SliceResult:
        return self.last

    @workflow.run
    async def run(self, inp: ImportInput) -> ImportSummary:
        try:
            await workflow.execute_activity(
                "prepare_import", inp, start_to_close_timeout=timedelta(minutes=30), retry_policy=_RETRY
            )
            while not self.last.done:
                self.last = await workflow.execute_activity(
                    "import_slice",
                    inp,
                    result_type=SliceResult,
                    start_to_close_timeout=timedelta(hours=1),
                    heartbeat_timeout=timedelta(seconds=inp.heartbeat_seconds),
                    retry_policy=_RETRY,
                )
        except ActivityError as err:
            cause = err.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(err)
            await workflow.execute_activity(
                "finish_import",
                FinishInput(inp.import_id, failure=message),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=_RETRY,
            )
            return ImportSummary(inp.import_id, "failed")
        await workflow.execute_activity(
            "finish_import",
            FinishInput(inp.import_id),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_RETRY,
        )
        r = self.last
        return ImportSummary(inp.import_id, "completed", r.processed_rows, r.accepted, r.existing, r.rejected)
