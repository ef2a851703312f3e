"""Enrollments through the services, without HTTP: who may open, see and act on a union's
enrollment (its clerk and admins open it, the organisations above it see it), and the rules the
services check before the workflow (one regular enrollment per union and year, instant ones only
after the submission window, members named, the year's protection type) and with it (an empty
roster is not submitted, a reviewer does not submit)."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from temporalio.client import Client

from core.auth import Actor
from core.errors import AppError, Forbidden
from core.settings import Settings
from models.programme import ProgrammeYearConfig
from models.states import EnrollmentKind, EnrollmentStatus
from rules.calendar import today
from services import enrollments, programme_years
from services.enrollment_views import EnrollmentView
from services.enrollments import EnrollmentCreate, MembersChoice, SubmitBody
from services.waiting import TemporalSource
from tests.enrollment_setup import config_around
from tests.services.actors import new_union, who

YEAR = 2086
OPENS = {"admin@SH", "clerk@new"}  # the union's clerk, an admin
SEES = OPENS | {"center_reviewer@SH", "reviewer@101"}  # and the organisations above it



def refused(expected: str, error: AppError) -> None:
    assert error.code == expected, (error.code, error.message)


def source_of(client: Client) -> TemporalSource:
    async def connected() -> Client:
        return client

    return connected


@pytest.fixture
def year(session: Session, tokens: dict[str, str], settings: Settings) -> int:
    """A year whose submission window is open today."""
    config = ProgrammeYearConfig.model_validate(config_around(today(settings.timezone)))
    admin = who(session, tokens, "admin@SH")
    programme_years.put_programme_year(session=session, actor=admin, year=YEAR, data=config)
    return YEAR


async def test_who_opens_sees_and_submits_an_enrollment(
    session: Session, tokens: dict[str, str], settings: Settings, temporal_client: Client, worker: None, year: int
) -> None:
    source = source_of(temporal_client)
    union, tokens = new_union(session, tokens)
    clerk = who(session, tokens, "clerk@new")

    async def open_as(key: str, kind: EnrollmentKind = EnrollmentKind.REGULAR) -> EnrollmentView:
        return await enrollments.open_enrollment(
            session=session, actor=who(session, tokens, key), temporal=temporal_client, source=source,
            settings=settings, code=union, data=EnrollmentCreate(year=year, kind=kind),
        )  # fmt: skip

    for key in sorted(set(tokens) - OPENS):
        with pytest.raises(Forbidden):
            await open_as(key)
    opened = await open_as("clerk@new")
    assert opened.status is EnrollmentStatus.DRAFT and opened.org_code == union
    assert {"confirm", "remove", "refresh", "submit", "cancel"} <= set(opened.actions)
    with pytest.raises(AppError) as again:  # the admin passes the door; the union has its regular one
        await open_as("admin@SH")
    refused("enrollment_exists", again.value)
    with pytest.raises(AppError) as instant:
        await open_as("clerk@new", EnrollmentKind.INSTANT)
    refused("use_regular_enrollment", instant.value)  # inside the submission window

    for key in sorted(set(tokens)):
        actor = who(session, tokens, key)
        if key in SEES:
            seen = await enrollments.read_enrollment(
                session=session, actor=actor, source=source, enrollment_id=opened.id
            )
            assert seen.id == opened.id
            assert (
                enrollments.roster(
                    session=session, actor=actor, enrollment_id=opened.id, category=None, page=1, size=10
                )
                == []
            )  # the new union has no members
            with pytest.raises(AppError) as letter:
                enrollments.notice(session=session, actor=actor, settings=settings, enrollment_id=opened.id, pdf=False)
            refused("not_submitted", letter.value)
            listed = await enrollments.org_enrollments(
                session=session, actor=actor, source=source, code=union, year=year, status=None, page=1, size=50
            )
            assert [e.id for e in listed] == [opened.id]
        else:
            with pytest.raises(Forbidden):
                await enrollments.read_enrollment(session=session, actor=actor, source=source, enrollment_id=opened.id)
            with pytest.raises(Forbidden):
                enrollments.roster(session=session, actor=actor, enrollment_id=opened.id, category=None, page=1, size=1)
            with pytest.raises(Forbidden):
                enrollments.notice(session=session, actor=actor, settings=settings, enrollment_id=opened.id, pdf=True)

    async def submit(actor: Actor, protection_type: str | None) -> EnrollmentView:
        return await enrollments.submit_enrollment(
            session=session, actor=actor, temporal=temporal_client, settings=settings, enrollment_id=opened.id,
            data=SubmitBody(protection_type=protection_type, step=opened.step),
        )  # fmt: skip

    for protection_type, code in ((None, "protection_type_required"), ("Z", "unknown_protection_type")):
        with pytest.raises(AppError) as wrong:
            await submit(clerk, protection_type)
        refused(code, wrong.value)
    with pytest.raises(AppError) as reviewer:  # the workflow's validator: the union's clerk submits
        await submit(who(session, tokens, "reviewer@101"), "A")
    refused("role_not_allowed", reviewer.value)
    with pytest.raises(AppError) as empty:
        await submit(clerk, "A")
    refused("roster_empty", empty.value)
    moved = ProgrammeYearConfig.model_validate(config_around(today(settings.timezone), deadline=6))
    with pytest.raises(AppError) as in_force:  # the enrollment's workflow runs with the year's dates
        programme_years.put_programme_year(
            session=session, actor=who(session, tokens, "admin@SH"), year=year, data=moved
        )
    refused("dates_in_force", in_force.value)


async def test_members_are_named_before_anything_is_read(
    session: Session, tokens: dict[str, str], settings: Settings, temporal_client: Client
) -> None:
    clerk = who(session, tokens, "clerk@101-0001")
    missing = 2**31 - 1  # no such enrollment: the choice is refused first
    with pytest.raises(AppError) as nothing:
        await enrollments.confirm_members(
            session=session, actor=clerk, temporal=temporal_client, settings=settings, enrollment_id=missing,
            data=MembersChoice(),
        )  # fmt: skip
    refused("members_required", nothing.value)
    with pytest.raises(AppError) as everyone:
        await enrollments.remove_members(
            session=session, actor=clerk, temporal=temporal_client, settings=settings, enrollment_id=missing,
            data=MembersChoice(all=True),
        )  # fmt: skip
    refused("members_required", everyone.value)
    with pytest.raises(AppError) as unknown:
        await enrollments.refresh_roster(
            session=session, actor=clerk, temporal=temporal_client, settings=settings, enrollment_id=missing
        )
    refused("enrollment_not_found", unknown.value)
