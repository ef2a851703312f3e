"""The round at a glance, for a district or the city: how many of its unions have not started their
enrollment, have it in draft, under review, returned, approved, paid, filed or completed, or failed,
with the unions behind each count and the days left to each of the year's deadlines."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlmodel import Session, col, select

from core.auth import Actor, require
from core.programme import get_config
from models.enrollment import Enrollment
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
