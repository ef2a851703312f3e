"""Organisations: the tree of unions."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import select

from api.deps import AdminActor, CurrentActor, SessionDep
from core.audit import audit_action
from core.auth import require
from models.org import Organisation, OrgCreate, OrgPublic
from models.states import Role, label
from services.orgs import create_org, get_org, to_public

router = APIRouter(prefix="/orgs", tags=["organisations"])


@router.post("", status_code=status.HTTP_201_CREATED)
def post_org(data: OrgCreate, session: SessionDep, actor: AdminActor) -> OrgPublic:
    """Create an organisation (admin)."""
    org = create_org(session, data)
    audit_action(
        session,
        actor,
        "org.created",
        ("organisation", org.code),
        f"创建{label(org.level)} {org.name}",
        org_id=org.id,
    )
    session.commit()
    session.refresh(org)
    return to_public(session, org)


@router.get("/{code}")
def read_org(code: str, session: SessionDep, actor: CurrentActor) -> OrgPublic:
    org = get_org(session, code)
    require(actor, org)
    return to_public(session, org)


@router.get("/{code}/children")
def read_children(code: str, session: SessionDep, actor: CurrentActor) -> list[OrgPublic]:
    org = get_org(session, code)
    require(actor, org, Role.REVIEWER, Role.CENTER_REVIEWER)
    children = session.exec(select(Organisation).where(Organisation.parent_id == org.id).order_by(Organisation.code))
    return [to_public(session, c) for c in children]
