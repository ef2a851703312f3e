"""Programme years (admin), each district's fee split (its reviewer, inside the split window), the
year's extensions and its city-wide statistics workbook (the Mutual Aid Center)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import AdminActor, CurrentActor, SessionDep, SettingsDep, TemporalDep
from models.extension import ExtensionCreate, ExtensionPublic
from models.inputs import YEAR_MAX, YEAR_MIN
from models.programme import FeeSplit, ProgrammeYearConfig, ProgrammeYearPublic
from services import filing_documents, programme_years

router = APIRouter(tags=["programme years"])
Year = Annotated[int, Path(ge=YEAR_MIN, le=YEAR_MAX, description="The coverage year")]


@router.put("/programme-years/{year}")
def put_programme_year(
    year: Year, data: ProgrammeYearConfig, session: SessionDep, actor: AdminActor
) -> ProgrammeYearPublic:
    """Set a coverage year's prices, split, windows, deadline, coverage and claim amounts. Once
    a workflow of the year has started with its dates (an enrollment, a filing, a registration),
    changing a date is refused (409 ``dates_in_force``): extend it instead (``POST
    /programme-years/{year}/extensions``), which reaches the running workflows."""
    return programme_years.put_programme_year(session=session, actor=actor, year=year, data=data)


@router.get("/programme-years")
def list_programme_years(session: SessionDep, actor: CurrentActor) -> list[ProgrammeYearPublic]:
    return programme_years.list_programme_years(session=session, actor=actor)


@router.get("/programme-years/{year}/statistics.xlsx", response_class=Response)
def city_statistics(year: Year, session: SessionDep, settings: SettingsDep, actor: CurrentActor) -> Response:
    """全市集中参保统计表 (the Mutual Aid Center and admins): every district's unions, one row each
    with its status, type, count, fee and split, and the per-type summary."""
    sheet = filing_documents.city_statistics(session=session, actor=actor, settings=settings, year=year)
    return Response(sheet.content, media_type=sheet.media_type, headers=sheet.headers())


@router.get("/programme-years/{year}")
def read_programme_year(year: Year, session: SessionDep, actor: CurrentActor) -> ProgrammeYearPublic:
    return programme_years.read_programme_year(session=session, actor=actor, year=year)


@router.get("/districts/{code}/fee-split/{year}")
def read_fee_split(code: str, year: Year, session: SessionDep, actor: CurrentActor) -> FeeSplit:
    """The district's split for the year, or the year's default when it has set none."""
    return programme_years.read_fee_split(session=session, actor=actor, code=code, year=year)


@router.put("/districts/{code}/fee-split/{year}")
def put_fee_split(
    code: str, year: Year, data: FeeSplit, session: SessionDep, actor: CurrentActor, settings: SettingsDep
) -> FeeSplit:
    """A district reviewer sets its district's split, only inside the year's split window."""
    return programme_years.put_fee_split(
        session=session, actor=actor, settings=settings, code=code, year=year, data=data
    )


@router.post("/programme-years/{year}/extensions", status_code=201)
async def create_extension(
    year: Year,
    data: ExtensionCreate,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> ExtensionPublic:
    """Extend a date of the year: a district reviewer its district's payment deadline; the Mutual
    Aid Center or an admin a district's (or every district's) submission window, the payment
    deadline, the grassroots submission window or the registration window. The running
    enrollments, filings and registrations take it at once (``reached`` counts them); a
    year-wide extension also moves the year's configuration. Refused: 403
    ``extension_not_allowed``, 422 ``extension_scope`` / ``extension_inconsistent``, 409
    ``extension_not_later`` / ``extension_too_late``, 503 when the workflow service is down
    (nothing recorded)."""
    return await programme_years.create_extension(
        session=session, actor=actor, temporal=temporal, settings=settings, year=year, data=data
    )


@router.get("/programme-years/{year}/extensions")
def list_extensions(year: Year, session: SessionDep, actor: CurrentActor) -> list[ExtensionPublic]:
    """Every extension of the year, the latest first."""
    return programme_years.list_extensions(session=session, actor=actor, year=year)
