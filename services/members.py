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
from models.inputs import LABELS
from models.member import Member, MemberPage, MemberPublic, MemberUpdate
from models.org import Organisation
from models.states import CardStatus, EmploymentStatus, IdType, Role
from rules.calendar import today
from rules.fields import FieldError, clean
from rules.idnumbers import mask_id, mask_phone
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


FIELD_LABELS = {**LABELS, "id_long_term": "证件长期有效"}  # how the audit names the fields corrected


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
