"""The documents of a district's yearly filing: the statistics sheet of its unions (and the
city's, for the Mutual Aid Center) and the district's notice letter (区局参保告知书) once submitted."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.auth import Actor, require
from core.errors import Conflict, Forbidden, NotFound
from core.programme import get_config
from core.settings import Settings
from documents.district_notice import (
    Account,
    DistrictNotice,
    DistrictNoticeLine,
    district_notice_html,
    district_notice_pdf,
)
from documents.enrollment_sheets import statistics_row, statistics_xlsx
from models.enrollment import DistrictFiling, Enrollment, fee_lines
from models.org import Organisation
from models.states import DistrictFilingStatus, OrgLevel, Role
from rules.calendar import local_date
from services.downloads import Download, letter
from services.filings import XLSX, district_of, enrollments_of, filing_of
from services.orgs import get_district


def statistics(*, session: Session, actor: Actor, settings: Settings, code: str, year: int) -> Download:
    """集中参保统计表: one row per union with its status, type, count, fee and split; not for clerks."""
    org = district_of(session, code, actor)
    if actor.role is Role.CLERK:
        raise Forbidden("role_not_allowed", "统计表仅供区局、二级工会和职保中心下载")
    parent_names = {
        o.id: o.name for o in session.exec(select(Organisation).where(Organisation.level == OrgLevel.SECONDARY))
    }
    lines = [
        statistics_row(e, o, parent_names.get(o.parent_id), settings.timezone)
        for e, o in enrollments_of(session, org.code, year)
        if e.status.value not in ("cancelled", "draft")
    ]
    return Download(
        content=statistics_xlsx(org.name, year, lines), media_type=XLSX, filename=f"statistics-{code}-{year}.xlsx"
    )


def city_statistics(*, session: Session, actor: Actor, settings: Settings, year: int) -> Download:
    """全市集中参保统计表 for the Mutual Aid Center and admins: the statistics sheet of every
    district's unions at once, by union code (so district by district)."""
    city = session.exec(select(Organisation).where(Organisation.level == OrgLevel.CITY)).first()
    if city is None:
        raise NotFound("org_not_found", "尚未设立市总工会", details={"level": "city"})
    require(actor, city, Role.CENTER_REVIEWER)
    parent_names = {
        o.id: o.name for o in session.exec(select(Organisation).where(Organisation.level == OrgLevel.SECONDARY))
    }
    rows = session.exec(
        select(Enrollment, Organisation)
        .join(Organisation, col(Organisation.id) == col(Enrollment.org_id))
        .where(Enrollment.year == year, col(Enrollment.status).not_in(("cancelled", "draft")))
        .order_by(col(Organisation.code))
    ).all()
    lines = [statistics_row(e, o, parent_names.get(o.parent_id), settings.timezone) for e, o in rows]
    return Download(
        content=statistics_xlsx(city.name, year, lines), media_type=XLSX, filename=f"statistics-{city.code}-{year}.xlsx"
    )


def district_notice(*, session: Session, actor: Actor, settings: Settings, code: str, year: int, pdf: bool) -> Download:
    """区局参保告知书 of a submitted filing, for the district's reviewers, the center and admins."""
    org = get_district(session, code)
    require(actor, org, Role.REVIEWER, Role.CENTER_REVIEWER)  # the district's reviewers, the center, admins
    filing = filing_of(session, code, year)
    if filing is None or filing.status is DistrictFilingStatus.OPEN or filing.submitted_at is None:
        raise Conflict("not_submitted", "区局提交至职保中心后才有区局参保告知书")
    notice = district_notice_for(session, settings, org, filing)
    return letter(
        lambda: district_notice_html(notice),
        (lambda: district_notice_pdf(notice)) if pdf else None,
        f"district-notice-{code}-{year}.pdf",
    )


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
