"""The round at a glance, for a district or the city: how many of its unions have not started their
enrollment, have it in draft, under review, returned, approved, paid, filed or completed, or failed,
with the unions behind each count and the days left to each of the year's deadlines."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.auth import Actor, require
from core.programme import get_config
from models.card_lifecycle import Registration
from models.enrollment import Enrollment
from models.member import Member
from models.org import Organisation
from models.states import EnrollmentKind, EnrollmentStatus, OrgLevel, Role
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
