"""The district's notice letter (区局参保告知书, seed 002 §4.5), for the district and the Mutual
Aid Center, once the district has submitted to the center: the filed enrollments per protection
type, the total and its split, the coverage, the late-payment rule and the center's account
(settings)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, select

from api.deps import CurrentActor, SessionDep, SettingsDep, YearPath
from core.auth import Actor, require
from core.errors import Conflict
from core.programme import get_config
from core.settings import Settings
from documents.district_notice import (
    Account,
    DistrictNotice,
    DistrictNoticeLine,
    district_notice_html,
    district_notice_pdf,
)
from models.enrollment import DistrictFiling, Enrollment, fee_lines
from models.org import Organisation
from models.states import DistrictFilingStatus, Role
from rules.calendar import local_date
from services.orgs import get_district

router = APIRouter(prefix="/districts/{code}/enrollments/{year}", tags=["district filings"])


def _sums(session: Session, filing_id: int) -> tuple[dict[str, tuple[int, int]], tuple[int, int, int]]:
    """Of the filed enrollments: members and total fen per protection type (each member's own when
    types follow each card), and the city, district and grassroots shares in fen."""
    per_type: dict[str, tuple[int, int]] = {}
    shares = (0, 0, 0)
    for e in session.exec(select(Enrollment).where(Enrollment.filing_id == filing_id)):
        for line in fee_lines(e):
            members, total = per_type.get(line.code, (0, 0))
            per_type[line.code] = (members + line.members, total + line.total_fen)
        shares = (shares[0] + e.city_fen, shares[1] + e.district_fen, shares[2] + e.grassroots_fen)
    return per_type, shares


def district_notice_for(
    session: Session, settings: Settings, org: Organisation, filing: DistrictFiling
) -> DistrictNotice:
    """The notice of a submitted filing, dated by its submission day in the programme's time zone."""
    config = get_config(session, filing.year)
    sums, (city, district, grassroots) = _sums(session, filing.id or 0)
    codes = [t.code for t in config.protection_types] + sorted(set(sums) - {t.code for t in config.protection_types})
    lines = []
    for code in codes:
        members, total = sums.get(code, (0, 0))
        protection, coverage = config.protection(code), config.coverage_of(code)
        name = protection.name if protection else code
        lines.append(DistrictNoticeLine(code, name, members, total, coverage.start, coverage.end))
    assert filing.submitted_at is not None
    return DistrictNotice(
        addressee=org.name,
        year=filing.year,
        plan_name=config.plan_name,
        lines=lines,
        city_fen=city,
        district_fen=district,
        grassroots_fen=grassroots,
        account=Account(settings.center_account_name, settings.center_account_no, settings.center_bank),
        issuer=settings.center_name,
        issued_on=local_date(filing.submitted_at, settings.timezone),
    )


def _submitted_filing(session: Session, code: str, year: int, actor: Actor) -> tuple[Organisation, DistrictFiling]:
    org = get_district(session, code)
    require(actor, org, Role.REVIEWER, Role.CENTER_REVIEWER)  # the district's reviewers, the center, admins
    filing = session.exec(
        select(DistrictFiling).where(DistrictFiling.district_code == code, DistrictFiling.year == year)
    ).first()
    if filing is None or filing.status is DistrictFilingStatus.OPEN or filing.submitted_at is None:
        raise Conflict("not_submitted", "区局提交至职保中心后才有区局参保告知书")
    return org, filing


@router.get("/notice", response_class=Response)
def district_notice(
    code: str,
    year: YearPath,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    format: str = Query("html", pattern="^(html|pdf)$"),
) -> Response:
    """区局参保告知书: members per protection type, the total, the coverage, the late-payment rule
    and the Mutual Aid Center's account; for the district and the center, after its submission."""
    org, filing = _submitted_filing(session, code, year, actor)
    notice = district_notice_for(session, settings, org, filing)
    if format == "pdf":
        return Response(
            district_notice_pdf(notice),
            media_type="application/pdf",
            headers={"Content-Disposition": f"attachment; filename=district-notice-{code}-{year}.pdf"},
        )
    return Response(district_notice_html(notice), media_type="text/html; charset=utf-8")
