"""The member registry: lists (masked), one member (revealed only audited), corrections (which send
a validated batch of the member back to pending)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from core.audit import audit_action
from core.auth import Actor, require
from core.errors import Conflict, Invalid, NotFound
from core.settings import Settings
from models.card_batch import CardBatch, CardBatchMember
from models.inputs import LABELS
from models.member import Member, MemberPage, MemberPublic, MemberUpdate
from models.org import Organisation
from models.states import LABELS as STATE_LABELS
from models.states import CardBatchStatus, CardStatus, EmploymentStatus, IdType, Role
from rules.calendar import today
from rules.fields import FieldError, clean
from rules.idnumbers import IdNumberError, check_other_document, mask_id, mask_phone, parse_resident_id
from rules.member_rows import check_id_expiry, check_past_date, check_phone, check_work_address
from services.card_batches import recheck_open_batch
from services.orgs import get_org


def get_member(session: Session, member_no: str) -> tuple[Member, Organisation]:
    row = session.exec(
        select(Member, Organisation)
        .join(Organisation, Organisation.id == Member.org_id)  # type: ignore[arg-type]
        .where(Member.member_no == member_no)
    ).first()
    if row is None:
        raise NotFound("member_not_found", f"会员编号 {member_no} 不存在", details={"member_no": member_no})
    return row


def to_public(member: Member, org_code: str, *, reveal: bool = False) -> MemberPublic:
    data = member.model_dump()
    if not reveal:
        data["id_number"] = mask_id(member.id_number)
        data["phone"] = mask_phone(member.phone)
    return MemberPublic(**data, org_code=org_code)


def _field_error(field: str, exc: FieldError) -> Invalid:
    return Invalid(exc.code, exc.message, details={"field": field})


def apply_correction(session: Session, member: Member, update: MemberUpdate, today: date) -> list[str]:
    """Apply a correction with the import's rules; returns the names of the fields changed."""
    given = update.model_dump(exclude_unset=True)
    changes: dict[str, Any] = _identity_changes(session, member, given, today)
    try:
        if given.get("id_expiry") is not None:
            resident = changes.get("id_type", member.id_type) is IdType.RESIDENT_ID
            birth = changes.get("birth_date", member.birth_date) if resident else None
            value = clean(given["id_expiry"])
            if not isinstance(value, str):
                raise FieldError("required", "证件有效期至不能为空")
            changes["id_expiry"], changes["id_long_term"] = check_id_expiry(value, today, birth)
        if given.get("phone") is not None:
            changes["phone"] = check_phone(str(clean(given["phone"]) or ""))
        if given.get("work_address") is not None:
            changes["work_address"] = check_work_address(str(clean(given["work_address"]) or ""))
        if "contact_address" in given:
            changes["contact_address"] = clean(given["contact_address"])
        if given.get("nationality") is not None:
            nationality = clean(given["nationality"])
            if not isinstance(nationality, str) or not nationality:
                raise FieldError("required", "国籍不能为空")
            changes["nationality"] = nationality
    except FieldError as exc:
        field = next(k for k in ("id_expiry", "phone", "work_address", "nationality") if k in given)
        raise _field_error(field, exc) from None
    changes.update(_employment_changes(member, update, given, today))
    if "phone" in changes and changes["phone"] != member.phone:
        taken = session.exec(
            select(Member.member_no).where(Member.phone == changes["phone"], Member.member_no != member.member_no)
        ).first()
        if taken is not None:
            raise Conflict("phone_taken", "该手机号码已被其他会员使用", details={"field": "phone"})
    changed = [k for k, v in changes.items() if getattr(member, k) != v]
    for key in changed:
        setattr(member, key, changes[key])
    if changed:
        member.updated_at = datetime.now(UTC)
        session.add(member)
    return changed


# A member at the bank (a submitted batch without the bank's answer) or holding a card: the bank
# opened the account on this document, so its type and number are not corrected here.
_AT_BANK = (CardBatchStatus.SUBMITTED, CardBatchStatus.REVOCATION_REQUESTED, CardBatchStatus.BANK_FEEDBACK)
_IDENTITY_OPEN = (CardStatus.NONE, CardStatus.PENDING, CardStatus.LAPSED)
NON_MAINLAND = "non_mainland_id"  # the special channel's reason, as the import gives it


def _identity_changes(session: Session, member: Member, given: dict[str, Any], today: date) -> dict[str, Any]:
    """证件类型 and 证件号码 by the import's rules: a new type re-checks the number (the given one or
    the member's); a mainland ID gives the birth date and gender, another document sends the member
    to the special channel (and needs a nationality)."""
    if given.get("id_type") is None and given.get("id_number") is None:
        return {}
    id_type = IdType(given.get("id_type") or member.id_type)
    number = member.id_number
    if given.get("id_number") is not None:
        number = "".join(str(clean(given["id_number"]) or "").split()).upper()
    if not number:
        raise Invalid("required", "证件号码不能为空", details={"field": "id_number"})
    if id_type == member.id_type and number == member.id_number:
        return {}
    _identity_may_change(session, member)
    changes: dict[str, Any] = {"id_type": id_type, "id_number": number}
    reasons = [r for r in (member.special_reasons or "").split(",") if r and r != NON_MAINLAND]
    try:
        if id_type is IdType.RESIDENT_ID:
            changes["birth_date"], changes["gender"] = parse_resident_id(number, today)
        else:
            reasons.append(NON_MAINLAND)
            birth = check_other_document(id_type, number, today)
            if birth is not None:
                changes["birth_date"] = birth
    except IdNumberError as exc:
        label = STATE_LABELS[IdType][id_type.value]
        raise Invalid(exc.code, f"证件号码（{label}）：{exc.message}", details={"field": "id_number"}) from None
    if id_type is not IdType.RESIDENT_ID and not (given.get("nationality") or member.nationality):
        raise Invalid("required", "非居民身份证人员须填写国籍", details={"field": "nationality"})
    if member.id_long_term and id_type is IdType.RESIDENT_ID and "id_expiry" not in given:
        try:
            check_id_expiry("长期", today, changes["birth_date"])
        except FieldError as exc:
            raise _field_error("id_expiry", exc) from None
    changes["special_reasons"] = ",".join(reasons) or None
    changes["special_channel"] = bool(reasons)
    taken = session.exec(
        select(Member.member_no).where(Member.id_number == number, Member.member_no != member.member_no)
    ).first()
    if taken is not None:
        raise Conflict("id_number_taken", "该证件号码已被其他会员使用", details={"field": "id_number"})
    return changes


def _identity_may_change(session: Session, member: Member) -> None:
    at_bank = session.exec(
        select(CardBatch.id)
        .join(CardBatchMember, col(CardBatchMember.batch_id) == col(CardBatch.id))
        .where(
            CardBatchMember.member_no == member.member_no,
            col(CardBatchMember.outcome).is_(None),
            col(CardBatch.status).in_(_AT_BANK),
        )
    ).first()
    if member.card_status not in _IDENTITY_OPEN or at_bank is not None:
        state = "已报送银行办卡" if at_bank is not None else STATE_LABELS[CardStatus][member.card_status.value]
        raise Conflict(
            "identity_locked",
            f"会员{state}，证件类型和证件号码须与银行开户信息一致，不能修改",
            details={"field": "id_number", "card_status": member.card_status.value},
        )


def _employment_changes(member: Member, update: MemberUpdate, given: dict[str, Any], today: date) -> dict[str, Any]:
    status = update.employment_status or member.employment_status
    changes: dict[str, Any] = {}
    try:
        if given.get("retirement_date"):
            changes["retirement_date"] = check_past_date(str(clean(given["retirement_date"])), today, "退休日期")
        if given.get("deceased_date"):
            changes["deceased_date"] = check_past_date(str(clean(given["deceased_date"])), today, "死亡日期")
    except FieldError as exc:
        raise _field_error("retirement_date" if "retirement_date" in changes else "deceased_date", exc) from None
    if update.employment_status is not None:
        changes["employment_status"] = status
    if status is EmploymentStatus.RETIRED and not (changes.get("retirement_date") or member.retirement_date):
        raise Invalid("required", "退休人员须填写退休日期", details={"field": "retirement_date"})
    if status is EmploymentStatus.DECEASED and not (changes.get("deceased_date") or member.deceased_date):
        raise Invalid("required", "请填写死亡日期", details={"field": "deceased_date"})
    if status is EmploymentStatus.IN_SERVICE and update.employment_status is not None:
        changes["retirement_date"] = None
        changes["deceased_date"] = None
    return changes


FIELD_LABELS = {
    **LABELS, "id_long_term": "证件长期有效", "birth_date": "出生日期", "gender": "性别",
    "special_channel": "特殊办卡通道", "special_reasons": "特殊通道原因",
}  # fmt: skip  # how the audit names the fields corrected


def list_members(
    *, session: Session, actor: Actor, code: str, card_status: CardStatus | None,
    employment_status: EmploymentStatus | None, q: str | None, subtree: bool, page: int, size: int,
) -> MemberPage:  # fmt: skip
    """Members of a union (or, for reviewers, of a union in their subtree); ID and phone masked.
    ``q``: a name, a member number, or a full ID number or phone."""
    org = get_org(session, code)
    require(actor, org)
    if subtree:
        below = select(Organisation.id).where(col(Organisation.path).startswith(org.path))
        query = select(Member).where(col(Member.org_id).in_(below))
    else:
        query = select(Member).where(Member.org_id == org.id)
    if card_status:
        query = query.where(Member.card_status == card_status)
    if employment_status:
        query = query.where(Member.employment_status == employment_status)
    if q:
        text = q.strip()
        query = query.where(
            or_(
                col(Member.name).contains(text),
                col(Member.member_no).startswith(text),
                col(Member.id_number) == text.upper(),
                col(Member.phone) == text,
            )
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = session.exec(query.order_by(Member.member_no).offset((page - 1) * size).limit(size)).all()
    codes = {
        o.id: o.code
        for o in session.exec(select(Organisation).where(col(Organisation.id).in_({m.org_id for m in items})))
    }
    return MemberPage(total=total, page=page, size=size, items=[to_public(m, codes[m.org_id]) for m in items])


def read_member(*, session: Session, actor: Actor, member_no: str, reveal: bool) -> MemberPublic:
    """One member; ``reveal`` shows the full ID number and phone and is audited."""
    member, org = get_member(session, member_no)
    require(actor, org)
    view = to_public(member, org.code, reveal=reveal)
    if reveal:
        audit_action(
            session, actor, "member.revealed", ("member", member_no), "查看完整证件号码和手机号码", org_id=org.id
        )
        session.commit()
    return view


async def correct_member(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, member_no: str, update: MemberUpdate
) -> MemberPublic:
    """Correct ID expiry, phone, addresses, employment status (retired / deceased); a corrected
    member sends their validated, not yet submitted batch back to pending."""

    def correct() -> tuple[MemberPublic, bool]:  # in a worker thread: the event loop never waits for the database
        member, org = get_member(session, member_no)
        require(actor, org, Role.CLERK)
        changed = apply_correction(session, member, update, today(settings.timezone))
        if changed:
            fields = "、".join(FIELD_LABELS.get(k, k) for k in changed)
            audit_action(
                session, actor, "member.corrected", ("member", member_no), "修改字段：" + fields, org_id=org.id
            )
            session.commit()
            session.refresh(member)
        return to_public(member, org.code), bool(changed)

    view, changed = await run_in_threadpool(correct)
    if changed:
        await recheck_open_batch(
            session=session, temporal=temporal, settings=settings, actor=actor, member_no=member_no
        )
    return view
