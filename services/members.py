"""Member registry operations shared by the API and the CLI: views, masking, corrections."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, select

from core.errors import Conflict, Invalid, NotFound
from models.member import Member, MemberPublic, MemberUpdate
from models.org import Organisation
from models.states import EmploymentStatus, IdType
from rules.fields import FieldError, clean
from rules.idnumbers import mask_id, mask_phone
from rules.member_rows import check_id_expiry, check_past_date, check_phone, check_work_address


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
    changes: dict[str, Any] = {}
    given = update.model_dump(exclude_unset=True)
    try:
        if given.get("id_expiry") is not None:
            birth = member.birth_date if member.id_type is IdType.RESIDENT_ID else None
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
    except FieldError as exc:
        field = next(k for k in ("id_expiry", "phone", "work_address") if k in given)
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
