"""The demo's covered member: a member of 上海建朗 (101-0001) with the history a claim needs today.

Seeded by `unioncard dev` on every start, as the rows earlier years would have left: a card
issued and registered in the round before the demo year (cli.demo's history year), and that
round's enrollment of the union, completed, whose coverage runs through today. The product's
own checks then accept a claim for them (rules.card_validity, activities.claims): their card is
valid until the demo year's registration window closes, their coverage covers the event. Only
rows of this member are written; the history year's dates follow today (cli.demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, select

from core.audit import append_audit
from core.bank_signing import luhn_digit
from core.programme import get_config
from documents.fake_members import resident_id
from models.card_batch import Card
from models.card_lifecycle import CardRegistration
from models.enrollment import Enrollment, EnrollmentMember
from models.member import Member, MemberNumberCounter
from models.programme import FeeSplit
from models.states import CardStatus, EnrollmentKind, EnrollmentStatus, Gender, IdType, Role, RosterCategory
from models.user import User
from rules.calendar import start_of
from rules.fees import split_fee, to_fen
from services.orgs import get_org

ORG = "101-0001"
NAME = "陈建华"
ID_NUMBER = resident_id("310101", date(1971, 3, 15), 124, male=True)
PHONE = "13911110001"
CARD_NO = "622288" + "900000000001" + luhn_digit("622288900000000001")
PROTECTION = "A"
_SEEDER = "演示数据"


@dataclass(frozen=True)
class Covered:
    member_no: str
    card_no: str


def _member_no(session: Session, district: str) -> str:
    counter = session.get(MemberNumberCounter, district) or MemberNumberCounter(district_code=district)
    seq, counter.next_value = counter.next_value, counter.next_value + 1
    session.add(counter)
    return f"{district}{seq:07d}"


def _member(session: Session, org_id: int, district: str) -> Member:
    found = session.exec(select(Member).where(Member.id_number == ID_NUMBER)).first()
    if found is not None:
        return found
    member = Member(
        member_no=_member_no(session, district),
        org_id=org_id,
        district_code=district,
        name=NAME,
        id_type=IdType.RESIDENT_ID,
        id_number=ID_NUMBER,
        id_long_term=True,
        gender=Gender.MALE,
        birth_date=date(1971, 3, 15),
        ethnicity="汉族",
        nationality="中国",
        political_status="群众",
        education="大学本科",
        title_level="无",
        phone=PHONE,
        household_registration="上海市",
        contact_address="上海市黄浦区南京东路100号",
        work_address="上海市黄浦区南京东路100号建朗大厦",
        work_start_month="1993-07",
        union_join_month="1995-03",
        social_insurance_start="1993-07",
        occupation="公司员工",
        card_no=CARD_NO,
        card_status=CardStatus.REGISTERED,
    )
    session.add(member)
    session.flush()
    append_audit(
        session, actor_id=None, actor_name=_SEEDER, org_id=org_id, action="demo.member_seeded",
        entity_type="member", entity_id=member.member_no,
        summary="演示数据：已办卡、已年度注册、上一年度已参保（可用于给付申请演示）",
    )  # fmt: skip
    return member


def _card(session: Session, member: Member, years: set[int], today: date, tz: str, clerk: int) -> None:
    if session.get(Card, CARD_NO) is None:
        issued = start_of(today - timedelta(days=90), tz) + timedelta(hours=10)
        session.add(Card(card_no=CARD_NO, member_no=member.member_no, status=CardStatus.ISSUED, issued_at=issued))
        session.flush()
    for year in sorted(years):
        if session.get(CardRegistration, (CARD_NO, year)) is None:
            at = start_of(today - timedelta(days=45), tz) + timedelta(hours=10)
            session.add(
                CardRegistration(card_no=CARD_NO, year=year, member_no=member.member_no, registered_by=clerk,
                                 registered_at=at)
            )  # fmt: skip


def _enrollment(session: Session, member: Member, year: int, clerk: int, tz: str) -> None:
    """The union's completed enrollment of the history year, its coverage the year's (moved with today)."""
    config = get_config(session, year)
    row = session.exec(
        select(Enrollment).where(
            Enrollment.org_id == member.org_id, Enrollment.year == year, Enrollment.kind == EnrollmentKind.REGULAR
        )
    ).first()
    if row is None:
        price = config.protection(PROTECTION)
        total = to_fen(price.price if price else config.protection_types[0].price)
        split: FeeSplit = config.default_split
        city, district, grassroots = split_fee(total, split)
        paid = start_of(config.payment_deadline - timedelta(days=5), tz) + timedelta(hours=10)
        row = Enrollment(
            org_id=member.org_id, year=year, status=EnrollmentStatus.COMPLETED, district_code=member.district_code,
            protection_type=PROTECTION, members_total=1, enrolled=1, total_fen=total, city_fen=city,
            district_fen=district, grassroots_fen=grassroots, paid_fen=grassroots, payment_ref="演示数据",
            paid_at=paid, workflow_id=f"enrollment-{ORG}-{year}", created_by=clerk, submitted_at=paid,
            created_at=paid - timedelta(days=10), updated_at=paid,
        )  # fmt: skip
        session.add(row)
        session.flush()
        session.add(EnrollmentMember(enrollment_id=row.id or 0, member_no=member.member_no,
                                     category=RosterCategory.ENROLLED, confirmed=True))  # fmt: skip
        append_audit(
            session, actor_id=None, actor_name=_SEEDER, org_id=member.org_id, action="demo.enrollment_seeded",
            entity_type="enrollment", entity_id=row.id or 0, from_state=None, to_state="completed",
            summary=f"演示数据：{year}年度集中参保已完成（1人）",
        )  # fmt: skip
    row.coverage_start, row.coverage_end = config.coverage.start, config.coverage.end
    session.add(row)


def seed_covered_member(session: Session, *, demo_year: int, history_year: int, today: date, tz: str) -> Covered:
    """The covered member and their history, made or brought up to today (safe to repeat)."""
    org = get_org(session, ORG)
    clerk = session.exec(select(User.id).where(User.org_id == org.id, User.role == Role.CLERK)).first()
    assert clerk is not None, "the demo users are seeded first"
    member = _member(session, org.id or 0, org.district_code or ORG[:3])
    # Registered in the history year and in the year before the demo year (the same one unless
    # the demo year moved on): valid until the demo year's registration window closes.
    _card(session, member, {history_year, demo_year - 1}, today, tz, clerk)
    _enrollment(session, member, history_year, clerk, tz)
    session.commit()
    return Covered(member.member_no, CARD_NO)
