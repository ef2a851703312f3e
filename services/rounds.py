"""The round at a glance, for a district or the city: how many of its unions have not started their
enrollment, have it in draft, under review, returned, approved, paid, filed or completed, or failed,
with the unions behind each count and the days left to each of the year's deadlines; and the
Mutual Aid Center's city-wide figures, district by district."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.auth import Actor, require
from core.errors import NotFound
from core.programme import get_config
from models.card_lifecycle import Registration
from models.enrollment import DistrictFiling, Enrollment
from models.member import Member
from models.org import Organisation
from models.states import CARD_WORK_UNSUPPORTED, EnrollmentKind, EnrollmentStatus, OrgLevel, Role
from rules.money import amount
from services.orgs import card_work_supported, get_org

# The stages a person follows a round by, in order, and the statuses each holds.
STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("not_started", "未开始", ()),
    ("draft", "草稿", ("draft",)),
    ("reviewing", "审核中", ("submitted", "secondary_review", "district_review")),
    ("returned", "已退回", ("returned",)),
    ("approved", "待缴费", ("approved",)),
    ("paid", "已缴费", ("paid",)),
    ("done", "已提交或完成", ("filed", "completed", "expired")),
    ("failed", "逾期未缴费", ("failed_unpaid",)),
)


class RoundUnion(BaseModel):
    code: str
    name: str
    status: str | None
    enrollment_id: int | None


class RoundStage(BaseModel):
    key: str
    label: str
    unions: list[RoundUnion]


class RoundDeadline(BaseModel):
    what: str
    day: date
    days_left: int


class RoundOverview(BaseModel):
    code: str
    name: str
    year: int
    unions: int
    stages: list[RoundStage]
    deadlines: list[RoundDeadline]


def round_overview(*, session: Session, actor: Actor, code: str, year: int, today: date) -> RoundOverview:
    """For the reviewers of a district or the city (and the center, admins): its grassroots unions
    that do card work, by the stage of their regular enrollment of ``year``."""
    org = get_org(session, code)
    require(actor, org, Role.REVIEWER, Role.CENTER_REVIEWER)
    config = get_config(session, year)
    unions = [
        u
        for u in session.exec(
            select(Organisation)
            .where(col(Organisation.path).startswith(org.path), Organisation.level == OrgLevel.GRASSROOTS)
            .order_by(col(Organisation.code))
        ).all()
        if card_work_supported(u)
    ]
    found = {
        e.org_id: e
        for e in session.exec(
            select(Enrollment).where(
                Enrollment.year == year,
                Enrollment.kind == EnrollmentKind.REGULAR,
                col(Enrollment.status) != EnrollmentStatus.CANCELLED,
            )
        ).all()
    }
    stages = {key: RoundStage(key=key, label=text, unions=[]) for key, text, _ in STAGES}
    for union in unions:
        e = found.get(union.id or 0)
        status = e.status.value if e else None
        key = next((k for k, _, statuses in STAGES if status in statuses), "not_started")
        stages[key].unions.append(
            RoundUnion(code=union.code, name=union.name, status=status, enrollment_id=e.id if e else None)
        )
    dates = (
        ("基层提交截止", config.submission_window.end),
        ("缴费截止", config.payment_deadline),
        ("区局提交职保中心截止", config.district_window.end),
    )
    deadlines = [RoundDeadline(what=w, day=d, days_left=(d - today).days) for w, d in dates if d >= today]
    return RoundOverview(
        code=org.code, name=org.name, year=year, unions=len(unions), stages=list(stages.values()), deadlines=deadlines
    )


def registration_overview(*, session: Session, actor: Actor, code: str, year: int, today: date) -> RoundOverview:
    """The same for card registration: a district's (or the city's) grassroots unions by how far
    their registration for ``year`` has come (cards held against cards registered), with the days
    left in the window."""
    org = get_org(session, code)
    require(actor, org, Role.REVIEWER, Role.CENTER_REVIEWER)
    unions = [
        u
        for u in session.exec(
            select(Organisation)
            .where(col(Organisation.path).startswith(org.path), Organisation.level == OrgLevel.GRASSROOTS)
            .order_by(col(Organisation.code))
        ).all()
        if card_work_supported(u)
    ]
    found = {r.org_id: r for r in session.exec(select(Registration).where(Registration.year == year)).all()}
    held = dict(
        session.exec(
            select(Member.org_id, func.count())
            .where(col(Member.card_no).is_not(None), col(Member.card_status).in_(VALID_HOLDINGS))
            .group_by(col(Member.org_id))
        ).all()
    )
    stages = {key: RoundStage(key=key, label=text, unions=[]) for key, text in REGISTRATION_STAGES}
    window = None
    for union in unions:
        r = found.get(union.id or 0)
        holders = int(held.get(union.id or 0, 0))
        if r is None:
            key = "not_opened"
        elif r.status.value == "closed":
            key = "closed"
        elif r.registered == 0:
            key = "none"
        elif r.registered < holders:
            key = "some"
        else:
            key = "all"
        if r is not None:
            window = window or (r.opens_on, r.closes_on)
        stages[key].unions.append(
            RoundUnion(
                code=union.code,
                name=f"{union.name}（已注册 {r.registered if r else 0}/{holders}）",
                status=r.status.value if r else None,
                enrollment_id=None,
            )
        )
    deadlines = []
    if window is not None:
        closes = date.fromisoformat(window[1])
        if closes >= today:
            deadlines.append(RoundDeadline(what="年度注册截止", day=closes, days_left=(closes - today).days))
    return RoundOverview(
        code=org.code, name=org.name, year=year, unions=len(unions), stages=list(stages.values()), deadlines=deadlines
    )


REGISTRATION_STAGES = (
    ("not_opened", "未开启"),
    ("none", "尚未注册"),
    ("some", "部分注册"),
    ("all", "已全部注册"),
    ("closed", "已结束"),
)
VALID_HOLDINGS = ("issued", "activated", "registered", "lapsed")


class DistrictFigures(BaseModel):
    """One district's round (or the city's, summed): its unions by stage, its members and money."""

    code: str
    name: str
    unions: int
    stages: dict[str, int]  # stage key -> unions
    members: int  # enrolled members of the enrollments submitted so far
    total: str  # their fee (元)
    paid: str  # the fee paid so far (元)
    filing_status: str | None = None  # the district's filing with the center


class CityStatistics(BaseModel):
    code: str
    name: str
    year: int
    stages: list[tuple[str, str]]  # (key, Chinese label) in the round's order
    districts: list[DistrictFigures]
    total: DistrictFigures


_UNCOUNTED = (EnrollmentStatus.CANCELLED, EnrollmentStatus.DRAFT)  # no roster submitted: no members nor fee
_STAGE_OF = {status: key for key, _, statuses in STAGES for status in statuses}


def city_statistics(*, session: Session, actor: Actor, year: int) -> CityStatistics:
    """The Mutual Aid Center's (and admins') city-wide figures of ``year``'s round: per district
    and for the city, its grassroots unions doing card work by stage (as the round at a glance
    counts them), the members enrolled and the fee due and paid; counted in the database."""
    city = session.exec(select(Organisation).where(Organisation.level == OrgLevel.CITY)).first()
    if city is None:
        raise NotFound("org_not_found", "尚未设立市总工会", details={"level": "city"})
    require(actor, city, Role.CENTER_REVIEWER)
    districts = session.exec(
        select(Organisation).where(Organisation.level == OrgLevel.DISTRICT).order_by(col(Organisation.code))
    ).all()
    card_work = col(Organisation.grassroots_type).is_(None) | col(Organisation.grassroots_type).not_in(
        CARD_WORK_UNSUPPORTED
    )
    unions: dict[str | None, int] = dict(
        session.exec(
            select(Organisation.district_code, func.count())
            .where(Organisation.level == OrgLevel.GRASSROOTS, card_work)
            .group_by(col(Organisation.district_code))
        ).all()
    )
    filings = {
        f.district_code: f.status.value
        for f in session.exec(select(DistrictFiling).where(DistrictFiling.year == year)).all()
    }
    counts, sums = _enrollment_sums(session, year)
    rows, fen = [], [0, 0, 0]
    for d in districts:
        stages = counts.get(d.code, {})
        members, total, paid = sums.get(d.code, (0, 0, 0))
        fen = [fen[0] + members, fen[1] + total, fen[2] + paid]
        n = int(unions.get(d.code, 0))
        rows.append(
            DistrictFigures(
                code=d.code, name=d.name, unions=n,
                stages={key: stages.get(key, 0) for key, _, _ in STAGES}
                | {"not_started": max(n - sum(stages.values()), 0)},
                members=members, total=amount(total), paid=amount(paid), filing_status=filings.get(d.code),
            )
        )  # fmt: skip
    city_total = DistrictFigures(
        code=city.code, name=f"{city.name}合计", unions=sum(r.unions for r in rows),
        stages={key: sum(r.stages[key] for r in rows) for key, _, _ in STAGES},
        members=fen[0], total=amount(fen[1]), paid=amount(fen[2]),
    )  # fmt: skip
    stage_labels = [(key, text) for key, text, _ in STAGES]
    return CityStatistics(
        code=city.code, name=city.name, year=year, stages=stage_labels, districts=rows, total=city_total
    )


def _enrollment_sums(session: Session, year: int) -> tuple[dict[str, dict[str, int]], dict[str, tuple[int, int, int]]]:
    """Per district: its regular enrollments of ``year`` by stage, and the members, fee and paid
    fee (fen) of those submitted."""
    grouped = session.exec(
        select(  # type: ignore[call-overload]  # six columns: more than sqlmodel's overloads type
            Enrollment.district_code,
            Enrollment.status,
            func.count(),
            func.coalesce(func.sum(Enrollment.enrolled), 0),
            func.coalesce(func.sum(Enrollment.total_fen), 0),
            func.coalesce(func.sum(Enrollment.paid_fen), 0),
        )
        .where(
            Enrollment.year == year,
            Enrollment.kind == EnrollmentKind.REGULAR,
            col(Enrollment.status) != EnrollmentStatus.CANCELLED,
        )
        .group_by(col(Enrollment.district_code), col(Enrollment.status))
    ).all()
    counts: dict[str, dict[str, int]] = {}
    sums: dict[str, tuple[int, int, int]] = {}
    for code, status, n, members, total, paid in grouped:
        stages = counts.setdefault(code, {})
        key = _STAGE_OF[EnrollmentStatus(status).value]
        stages[key] = stages.get(key, 0) + int(n)
        if EnrollmentStatus(status) not in _UNCOUNTED:
            m, t, p = sums.get(code, (0, 0, 0))
            sums[code] = (m + int(members), t + int(total), p + int(paid))
    return counts, sums
