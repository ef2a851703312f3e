"""Member corrections through the service, without HTTP: the ID type (证件类型) with its number,
checked by the import's rules (a new type re-checks the number; a mainland ID gives the birth
date and gender, another document the special channel), named in Chinese, audited without the
number, and locked once the bank holds the member's document."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlmodel import Session, col, select
from temporalio.client import Client

from core.auth import Actor
from core.errors import AppError
from core.settings import Settings
from models.audit import AuditEvent
from models.member import Member, MemberPublic, MemberUpdate
from models.org import Organisation
from models.states import CardStatus, Gender, IdType
from rules.idnumbers import check_digit
from services import members
from services.sessions import actor_for_token

ORG = "101-0001"
CLERK = "clerk@101-0001"


@pytest.fixture
def clerk(session: Session, tokens: dict[str, str]) -> Actor:
    return actor_for_token(session, tokens[CLERK])


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
