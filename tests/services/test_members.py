"""Member corrections through the service, without HTTP: the ID type (证件类型) with its number,
checked by the import's rules (a new type re-checks the number; a mainland ID gives the birth
date and gender, another document the special channel), named in Chinese, audited without the
number, and locked once the bank holds the member's document."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

import pytest
from sqlmodel import Session, col, select
from temporalio.client import Client

from core.auth import Actor
from core.db import Database
from core.errors import AppError, Forbidden, NotFound
from core.settings import Settings
from documents.fake_members import HEADERS, member_rows
from models.audit import AuditEvent
from models.member import Member, MemberPublic, MemberUpdate
from models.org import Organisation
from models.states import CardStatus, Gender, IdType
from rules.idnumbers import check_digit
from services import members
from tests.services.actors import new_union, who

ORG = "101-0001"
CLERK = "clerk@101-0001"


@pytest.fixture
def clerk(session: Session, tokens: dict[str, str]) -> Actor:
    return who(session, tokens, CLERK)


def resident_id(birth: str = "19800101") -> str:
    """A valid mainland ID number no other test holds (a random area code and sequence)."""
    digits = str(uuid.uuid4().int)
    first17 = "3" + digits[:5] + birth + digits[5:8]
    return first17 + check_digit(first17)


def passport_member(session: Session, status: CardStatus = CardStatus.NONE) -> str:
    """A member of the union on a passport (the special channel), its number."""
    org = session.exec(select(Organisation).where(Organisation.code == ORG)).one()
    digits = str(uuid.uuid4().int)
    member_no = f"1018{digits[:6]}"
    session.add(
        Member(
            member_no=member_no, org_id=org.id or 0, district_code="101", name="证件会员", id_type=IdType.PASSPORT,
            id_number=f"E{digits[:8]}", gender=Gender.FEMALE, phone=f"198{digits[-8:]}", nationality="新加坡",
            work_address="黄浦区测试路一号院二号楼", card_status=status, id_expiry=date(2031, 1, 1),
            special_channel=True, special_reasons="non_mainland_id",
        )
    )  # fmt: skip
    session.commit()
    return member_no


async def correct(
    session: Session, clerk: Actor, temporal: Client, settings: Settings, member_no: str, **given: str
) -> MemberPublic:
    return await members.correct_member(
        session=session, actor=clerk, temporal=temporal, settings=settings, member_no=member_no,
        update=MemberUpdate.model_validate(given),
    )  # fmt: skip


async def refused(
    session: Session, clerk: Actor, temporal: Client, settings: Settings, member_no: str, **given: str
) -> AppError:
    with pytest.raises(AppError) as caught:
        await correct(session, clerk, temporal, settings, member_no, **given)
    session.rollback()
    return caught.value


async def test_a_new_id_type_rechecks_the_number_by_the_import_rules(
    session: Session, clerk: Actor, temporal_client: Client, settings: Settings
) -> None:
    member_no = passport_member(session)
    args = (session, clerk, temporal_client, settings, member_no)
    only_type = await refused(*args, id_type="resident_id")  # the passport number is no mainland ID
    assert (only_type.status_code, only_type.code, only_type.details) == (
        422,
        "id_number_length",
        {"field": "id_number"},
    )
    assert only_type.message.startswith("证件号码（居民身份证）")
    good = resident_id("19700315")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    checksum = await refused(*args, id_type="resident_id", id_number=bad)
    assert checksum.code == "id_number_checksum" and "校验位" in checksum.message
    hk = await refused(*args, id_type="hk_macau_permit", id_number="X1234")
    assert hk.code == "id_number_format" and "港澳居民来往内地通行证" in hk.message

    view = await correct(*args, id_type="resident_id", id_number=good.lower())
    assert view.id_type is IdType.RESIDENT_ID and view.id_number == good[:6] + "********" + good[-4:]
    assert view.birth_date == date(1970, 3, 15) and view.gender is (Gender.MALE if int(good[16]) % 2 else Gender.FEMALE)
    assert view.special_channel is False and view.special_reasons is None
    audit = session.exec(
        select(AuditEvent).where(AuditEvent.entity_type == "member", AuditEvent.entity_id == member_no)
    ).all()
    assert [a.action for a in audit] == ["member.corrected"]
    assert "证件类型" in audit[0].summary and "证件号码" in audit[0].summary and good not in audit[0].summary

    other = passport_member(session)
    taken = await refused(session, clerk, temporal_client, settings, other, id_type="resident_id", id_number=good)
    assert (taken.status_code, taken.code) == (409, "id_number_taken")
    back = await correct(
        session,
        clerk,
        temporal_client,
        settings,
        member_no,
        id_type="passport",
        id_number="E" + str(uuid.uuid4().int)[:8],
    )
    assert view.id_type is IdType.RESIDENT_ID and back.id_type is IdType.PASSPORT and back.special_channel is True


async def test_the_bank_holds_the_document_of_a_member_with_a_card(
    session: Session, clerk: Actor, temporal_client: Client, settings: Settings
) -> None:
    member_no = passport_member(session, CardStatus.ISSUED)
    locked = await refused(session, clerk, temporal_client, settings, member_no, id_number="E99887766")
    assert (locked.status_code, locked.code) == (409, "identity_locked") and "已发卡" in locked.message
    phone = "197" + str(uuid.uuid4().int)[:8]
    same = await correct(session, clerk, temporal_client, settings, member_no, id_type="passport", phone=phone)
    assert same.phone == phone[:3] + "****" + phone[-4:]  # the same type, no number: nothing of the identity changes
    rows = session.exec(select(Member).where(col(Member.member_no) == member_no)).one()
    assert rows.id_number.startswith("E") and rows.id_type is IdType.PASSPORT


# Who may list, read (revealed: audited) and correct a member of a union: the demo actors, and the
# clerk of a fresh union of district 101 of the test's own (``clerk@new``).
ACTORS = [
    "admin@SH",
    "center_reviewer@SH",
    "reviewer@101",
    "reviewer@101-S01",
    "reviewer@101-0001",
    "clerk@101-0001",
    "clerk@101-S01-0001",
    "clerk@104-0001",
    "clerk@new",
]
SEES = {"admin@SH", "center_reviewer@SH", "reviewer@101", "clerk@new"}  # the union and those above it
CORRECTS = {"admin@SH", "clerk@new"}
MEMBER_SEED = 9101


def outcome(call: Callable[[], object]) -> str:
    """``ok``, or the code of the project's error the call raised (a 403 or a 404)."""
    try:
        call()
    except (Forbidden, NotFound) as exc:
        return exc.code
    return "ok"


async def async_outcome(call: Callable[[], Awaitable[object]]) -> str:
    try:
        await call()
    except (Forbidden, NotFound) as exc:
        return exc.code
    return "ok"


def new_union_with_member(session: Session, tokens: dict[str, str], db: Database) -> tuple[str, str, dict[str, str]]:
    """A grassroots union of district 101, its one member (an ID and phone of seed 9101's, a number
    from the district's counter) and the demo tokens with the union's clerk's (``clerk@new``)."""
    code, tokens = new_union(session, tokens)
    org = session.exec(select(Organisation).where(Organisation.code == code)).one()
    generated = next(member_rows(1, seed=MEMBER_SEED, phone_base=15_000_000_000 + MEMBER_SEED * 1000))
    row = dict(zip(HEADERS, generated, strict=True))
    with db.connect() as conn:
        seq = conn.execute(
            """INSERT INTO member_number_counters (district_code, next_value) VALUES ('101', 2)
               ON CONFLICT (district_code) DO UPDATE SET next_value = member_number_counters.next_value + 1
               RETURNING next_value - 1"""
        ).fetchone()
    assert seq is not None
    member_no = f"101{int(seq[0]):07d}"
    id_number = row["证件号码"]
    session.add(
        Member(
            member_no=member_no, org_id=org.id or 0, district_code="101", name=row["姓名"],
            id_type=IdType.RESIDENT_ID, id_number=id_number, id_long_term=True,
            gender=Gender.MALE if int(id_number[16]) % 2 else Gender.FEMALE,
            birth_date=date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
            phone=row["手机号码"], nationality="中国", work_address="黄浦区测试路九号院一号楼",
        )
    )  # fmt: skip
    session.commit()
    return member_no, code, tokens


async def test_who_lists_reads_and_corrects_a_member_of_a_union(
    session: Session, tokens: dict[str, str], db: Database, temporal_client: Client, settings: Settings
) -> None:
    member_no, code, tokens = new_union_with_member(session, tokens, db)
    actors = {key: who(session, tokens, key) for key in ACTORS}
    stored = session.exec(select(Member).where(col(Member.member_no) == member_no)).one()
    id_number, phone = stored.id_number, stored.phone

    def listed(key: str) -> None:
        page = members.list_members(
            session=session, actor=actors[key], code=code, card_status=None, employment_status=None, q=None,
            subtree=False, page=1, size=10,
        )  # fmt: skip
        assert [m.member_no for m in page.items] == [member_no] and page.items[0].id_number != id_number

    def read_of(key: str, number: str, reveal: bool = True) -> MemberPublic:
        return members.read_member(session=session, actor=actors[key], member_no=number, reveal=reveal)

    def read(key: str, reveal: bool) -> None:
        view = read_of(key, member_no, reveal)
        assert view.org_code == code
        assert (view.id_number == id_number, view.phone == phone) == (reveal, reveal)  # masked unless revealed

    def audited(action: str) -> list[int]:
        rows = session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_type == "member", AuditEvent.entity_id == member_no, AuditEvent.action == action
            )
        ).all()
        return sorted(r.actor_id or 0 for r in rows)

    seen = {key: outcome(lambda key=key: listed(key)) for key in ACTORS}  # type: ignore[misc]
    assert seen == {key: "ok" if key in SEES else "outside_scope" for key in ACTORS}
    masked = {key: outcome(lambda key=key: read(key, False)) for key in ACTORS}  # type: ignore[misc]
    assert masked == seen
    assert audited("member.revealed") == []  # a masked read is not audited
    revealed = {key: outcome(lambda key=key: read(key, True)) for key in ACTORS}  # type: ignore[misc]
    session.rollback()
    assert revealed == seen
    assert audited("member.revealed") == sorted(actors[key].user_id for key in SEES)  # each reveal, by its reader

    def correct_for(key: str) -> Awaitable[MemberPublic]:
        return correct(session, actors[key], temporal_client, settings, member_no, contact_address=f"测试路{key}")

    corrected = {key: await async_outcome(lambda key=key: correct_for(key)) for key in ACTORS}  # type: ignore[misc]
    session.rollback()
    assert corrected == {
        "admin@SH": "ok",
        "center_reviewer@SH": "role_not_allowed",  # reviewers see, only a clerk of the union corrects
        "reviewer@101": "role_not_allowed",
        "reviewer@101-S01": "role_not_allowed",
        "reviewer@101-0001": "role_not_allowed",
        "clerk@101-0001": "outside_scope",  # a clerk of another union
        "clerk@101-S01-0001": "outside_scope",
        "clerk@104-0001": "outside_scope",
        "clerk@new": "ok",
    }
    assert audited("member.corrected") == sorted(actors[key].user_id for key in CORRECTS)
    session.expire_all()
    after = session.exec(select(Member).where(col(Member.member_no) == member_no)).one()
    assert after.contact_address == f"测试路{ACTORS[-1]}"  # the last allowed correction (clerk@new) holds

    # a member number nobody holds, a union nobody has: 404 for every actor, whatever their scope
    def unknown(key: str) -> Awaitable[MemberPublic]:
        return correct(session, actors[key], temporal_client, settings, "1019999999", phone="19700000000")

    def unknown_union(key: str) -> None:
        members.list_members(
            session=session, actor=actors[key], code="nowhere", card_status=None, employment_status=None, q=None,
            subtree=False, page=1, size=10,
        )  # fmt: skip

    nobody = {
        key: (
            outcome(lambda key=key: read_of(key, "1019999999")),  # type: ignore[misc]
            await async_outcome(lambda key=key: unknown(key)),  # type: ignore[misc]
            outcome(lambda key=key: unknown_union(key)),  # type: ignore[misc]
        )
        for key in ACTORS
    }
    assert nobody == {key: ("member_not_found", "member_not_found", "org_not_found") for key in ACTORS}
