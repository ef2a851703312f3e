"""Group insurance enrollment (集中参保): roster, confirmation, submission, review, payment, notice."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from models.inputs import PAGE_MAX, YEAR_MAX, YEAR_MIN
from models.states import RosterCategory
from services import enrollments
from services.enrollment_views import EnrollmentView, RosterMember
from services.enrollments import (
    CancelBody,
    EnrollmentCreate,
    EnrollmentReview,
    MembersChoice,
    PaymentBody,
    SubmitBody,
)

router = APIRouter(tags=["enrollments"])


@router.post("/orgs/{code}/enrollments", status_code=status.HTTP_201_CREATED)
async def create_enrollment(
    code: str,
    data: EnrollmentCreate,
    source: TemporalSourceDep,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Open the union's enrollment for a coverage year (one regular enrollment per union and year;
    instant enrollments after the submission window). The roster is built at once; when it cannot
    be built in time (its workflow retries it), the enrollment is answered as it is, with
    ``waiting`` saying what is retried: it exists, and sending the request again would be refused."""
    return await enrollments.open_enrollment(
        session=session, actor=actor, temporal=temporal, source=source, settings=settings, code=code, data=data
    )


@router.get("/orgs/{code}/enrollments")
async def list_enrollments(
    code: str,
    source: TemporalSourceDep,
    session: SessionDep,
    actor: CurrentActor,
    year: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX),
    status: str | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(50, ge=1, le=500),
) -> list[EnrollmentView]:
    """Enrollments of a union, or of every union below the organisation, each with what its
    workflow keeps retrying (``waiting``)."""
    return await enrollments.org_enrollments(
        session=session, actor=actor, source=source, code=code, year=year, status=status, page=page, size=size
    )


@router.get("/enrollments/{enrollment_id}")
async def read_enrollment(
    enrollment_id: int, source: TemporalSourceDep, session: SessionDep, actor: CurrentActor
) -> EnrollmentView:
    """Status, roster counts, fee and split, the caller's actions, the history, and (``waiting``)
    what its workflow keeps retrying."""
    return await enrollments.read_enrollment(session=session, actor=actor, source=source, enrollment_id=enrollment_id)


@router.get("/enrollments/{enrollment_id}/members")
def roster_members(
    enrollment_id: int,
    session: SessionDep,
    actor: CurrentActor,
    category: RosterCategory | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(100, ge=1, le=1000),
) -> list[RosterMember]:
    """The roster by category: enrolled, awaiting (confirmation), no_card, retired, deceased, removed."""
    return enrollments.roster(
        session=session, actor=actor, enrollment_id=enrollment_id, category=category, page=page, size=size
    )


@router.post("/enrollments/{enrollment_id}/confirm")
async def confirm_members(
    enrollment_id: int,
    data: MembersChoice,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Confirm members without social insurance (one, several or all). Confirmed members cannot be
    removed; confirming after submission takes the enrollment back to draft (submit again)."""
    return await enrollments.confirm_members(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id, data=data
    )


@router.post("/enrollments/{enrollment_id}/remove")
async def remove_members(
    enrollment_id: int,
    data: MembersChoice,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Take members who are not confirmed off the roster (e.g. retired since the last update)."""
    return await enrollments.remove_members(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id, data=data
    )


@router.post("/enrollments/{enrollment_id}/refresh")
async def refresh_roster(
    enrollment_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> EnrollmentView:
    """Build the roster again from the registry, keeping confirmations and removals."""
    return await enrollments.refresh_roster(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id
    )


@router.post("/enrollments/{enrollment_id}/submit")
async def submit_enrollment(
    enrollment_id: int,
    data: SubmitBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """Submit with the year's protection type: the fee and split are computed, the notice produced."""
    return await enrollments.submit_enrollment(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id, data=data
    )


@router.post("/enrollments/{enrollment_id}/review")
async def review_enrollment(
    enrollment_id: int,
    data: EnrollmentReview,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """The secondary union (if any), then the district: approve, or return with a reason."""
    return await enrollments.review_enrollment(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id, data=data
    )


@router.post("/enrollments/{enrollment_id}/payment")
async def record_payment(
    enrollment_id: int,
    data: PaymentBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    """The district records the grassroots share as received (the exact amount, before the deadline)."""
    return await enrollments.record_payment(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id, data=data
    )


@router.post("/enrollments/{enrollment_id}/cancel")
async def cancel_enrollment(
    enrollment_id: int,
    data: CancelBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> EnrollmentView:
    return await enrollments.cancel_enrollment(
        session=session, actor=actor, temporal=temporal, settings=settings, enrollment_id=enrollment_id, data=data
    )


@router.get("/enrollments/{enrollment_id}/notice", response_class=Response)
def notice(
    enrollment_id: int,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    format: str = Query("html", pattern="^(html|pdf)$"),
) -> Response:
    """The notice letter (告知书): count, total and split, the payment deadline and coverage."""
    letter = enrollments.notice(
        session=session, actor=actor, settings=settings, enrollment_id=enrollment_id, pdf=format == "pdf"
    )
    return Response(letter.content, media_type=letter.media_type, headers=letter.headers())
