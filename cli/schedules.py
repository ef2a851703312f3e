"""Temporal Schedules the service keeps, created (or brought up to date) when the worker starts.

``registration-yearly`` starts ``RegistrationYearWorkflow`` at 00:00 on 1 April in the
programme's time zone, so every union's registration exists before its window opens (1 May by
default) and nobody starts registration by hand.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core import search_attributes as search
from core.settings import Settings
from workflows.registration_year import RegistrationYearInput, RegistrationYearWorkflow

REGISTRATION_SCHEDULE = "registration-yearly"


def registration_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RegistrationYearWorkflow.run,
            RegistrationYearInput(year=None, timezone=settings.timezone),  # the year it runs in
            id="registration-year",  # Temporal appends the scheduled time
            task_queue=settings.task_queue,
            typed_search_attributes=search.at_start("registration_year", "running", timed=False),
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(month=[ScheduleRange(4)], day_of_month=[ScheduleRange(1)])],
            time_zone_name=settings.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=30)),
    )


async def ensure_schedules(client: Client, settings: Settings) -> list[str]:
    """Create the service's schedules, or bring them up to the current definition (safe to
    repeat); answers the ones created."""
    schedule = registration_schedule(settings)
    try:
        await client.create_schedule(REGISTRATION_SCHEDULE, schedule)
    except ScheduleAlreadyRunningError:

        def current(existing: ScheduleUpdateInput) -> ScheduleUpdate:  # an operator's pause is kept
            return ScheduleUpdate(schedule=replace(schedule, state=existing.description.schedule.state))

        await client.get_schedule_handle(REGISTRATION_SCHEDULE).update(current)
        return []
    return [REGISTRATION_SCHEDULE]
