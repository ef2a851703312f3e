"""The yearly opener: every grassroots union that does card work gets its registration for the
year (a projection row and a running ``RegistrationWorkflow``). Started by the Temporal Schedule
``registration-yearly`` on 1 April, or by an admin; running it again is harmless."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

from workflows.common import DB_RETRY

with workflow.unsafe.imports_passed_through():
    from workflows.dated_inputs import OpenRegistrations, local_year


def registration_year_workflow_id(year: int) -> str:
    return f"registration-year-{year}"


@dataclass
class RegistrationYearInput:
    year: int | None = None  # None: the current year in ``timezone`` (what the schedule sends)
    timezone: str = "Asia/Shanghai"


@workflow.defn
class RegistrationYearWorkflow:
    @workflow.run
    async def run(self, inp: RegistrationYearInput) -> int:
        """The number of the year's registrations that are running or done."""
        year = inp.year or local_year(workflow.now(), inp.timezone)
        opened: int = await workflow.execute_activity(
            "open_registrations",
            OpenRegistrations(year, workflow.now()),
            result_type=int,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=DB_RETRY,
        )
        workflow.logger.info("registrations opened", extra={"year": year, "registrations": opened})
        return opened
