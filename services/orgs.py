"""Organisations: the tree's rules (who may be whose parent, district codes, subtree paths) and
its operations (create, read, children) with their authorisation."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from core.audit import audit_action
from core.auth import Actor, require, require_role
from core.errors import Conflict, Invalid, NotFound
from documents.notices import unprintable
from models.org import Organisation, OrgCreate, OrgPublic
from models.states import CARD_WORK_UNSUPPORTED, GRASSROOTS_TYPE_LABELS, GrassrootsType, OrgLevel, Role, label

_PARENT_LEVELS: dict[OrgLevel, tuple[OrgLevel, ...]] = {
    OrgLevel.CITY: (),
    OrgLevel.DISTRICT: (OrgLevel.CITY,),
    OrgLevel.SECONDARY: (OrgLevel.DISTRICT,),
    OrgLevel.GRASSROOTS: (OrgLevel.DISTRICT, OrgLevel.SECONDARY),
}
_CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{1,31}$")
_DISTRICT_RE = re.compile(r"^\d{3}$")


def get_org(session: Session, code: str) -> Organisation:
    org = session.exec(select(Organisation).where(Organisation.code == code)).first()
    if org is None:
        raise NotFound("org_not_found", f"组织 {code} 不存在", details={"org_code": code})
    return org


def get_district(session: Session, code: str) -> Organisation:
    """A district union (区局/产业工会) by its code; another level is refused."""
    org = get_org(session, code)
    if org.level is not OrgLevel.DISTRICT:
        raise Conflict("not_a_district", f"{org.name}不是区局（产业）工会")
    return org


def card_work_supported(org: Organisation) -> bool:
    return org.grassroots_type not in CARD_WORK_UNSUPPORTED


def require_card_work(org: Organisation) -> None:
    """Member and card work happens in grassroots unions of a supported type."""
    if org.level is not OrgLevel.GRASSROOTS:
        raise Conflict("not_grassroots", f"{org.name}不是基层工会，会员须导入到基层工会")
    if not card_work_supported(org):
        assert org.grassroots_type is not None
        label = GRASSROOTS_TYPE_LABELS[org.grassroots_type]
        raise Conflict("org_type_unsupported", f"{label}类型的工会暂不支持会员服务卡业务", details={"type": label})


def require_printable(text: str, what: str, field: str) -> None:
    """A name the documents print (notices, letters) must be drawn by their font: otherwise 422."""
    missing = unprintable(text)
    if missing:
        raise Invalid(
            "unprintable_characters",
            f"{what}中的“{missing}”无法在告知书等文件中打印，请改用常用字（如用同音的常用字代替）",
            details={"field": field, "characters": list(missing)},
        )


def create_org(session: Session, data: OrgCreate) -> Organisation:
    if not _CODE_RE.match(data.code):
        raise Invalid("invalid_org_code", "组织代码只能包含字母、数字、-和_，长度2至32")
    if data.level is OrgLevel.DISTRICT and not _DISTRICT_RE.match(data.code):
        raise Invalid("invalid_district_code", "区局（产业）工会的代码须为3位数字")
    if data.level is OrgLevel.GRASSROOTS and data.grassroots_type is None:
        raise Invalid("grassroots_type_required", "基层工会须指定工会类型", details={"types": list(GrassrootsType)})
    if data.level is not OrgLevel.GRASSROOTS and data.grassroots_type is not None:
        raise Invalid("grassroots_type_not_allowed", "只有基层工会有工会类型")
    require_printable(data.name, "组织名称", "name")
    if session.exec(select(Organisation).where(Organisation.code == data.code)).first():
        raise Conflict("org_code_taken", f"组织代码 {data.code} 已存在")
    parent = None
    if data.level is OrgLevel.CITY:
        if data.parent_code:
            raise Invalid("invalid_parent", "市总工会没有上级")
        if session.exec(select(Organisation).where(Organisation.level == OrgLevel.CITY)).first():
            raise Conflict("city_exists", "市总工会已存在")
    else:
        if not data.parent_code:
            raise Invalid("parent_required", "须指定上级组织")
        parent = get_org(session, data.parent_code)
        if parent.level not in _PARENT_LEVELS[data.level]:
            raise Invalid("invalid_parent", f"{label(data.level)}的上级不能是{label(parent.level)}")
    org = Organisation(
        code=data.code,
        name=data.name,
        level=data.level,
        grassroots_type=data.grassroots_type,
        parent_id=parent.id if parent else None,
        district_code=data.code if data.level is OrgLevel.DISTRICT else (parent.district_code if parent else None),
        path="",
    )
    session.add(org)
    session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    session.add(org)
    return org


def to_public(session: Session, org: Organisation) -> OrgPublic:
    parent = session.get(Organisation, org.parent_id) if org.parent_id else None
    return OrgPublic(
        code=org.code,
        name=org.name,
        level=org.level,
        grassroots_type=org.grassroots_type,
        parent_code=parent.code if parent else None,
        district_code=org.district_code,
        card_work_supported=card_work_supported(org),
        created_at=org.created_at,
    )


def add_org(*, session: Session, actor: Actor, data: OrgCreate) -> OrgPublic:
    """Create an organisation (admins), audited."""
    require_role(actor, Role.ADMIN)
    org = create_org(session, data)
    audit_action(
        session, actor, "org.created", ("organisation", org.code), f"创建{label(org.level)} {org.name}", org_id=org.id
    )
    session.commit()
    session.refresh(org)
    return to_public(session, org)


def read_org(*, session: Session, actor: Actor, code: str) -> OrgPublic:
    org = get_org(session, code)
    require(actor, org)
    return to_public(session, org)


def children(*, session: Session, actor: Actor, code: str) -> list[OrgPublic]:
    """The organisations right below one (reviewers of it or above, the center, admins)."""
    org = get_org(session, code)
    require(actor, org, Role.REVIEWER, Role.CENTER_REVIEWER)
    found = session.exec(select(Organisation).where(Organisation.parent_id == org.id).order_by(Organisation.code))
    return [to_public(session, c) for c in found]
