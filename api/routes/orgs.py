"""Organisations: the tree of unions."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminActor, CurrentActor, SessionDep
from models.org import OrgCreate, OrgPublic
from services import orgs

router = APIRouter(prefix="/orgs", tags=["organisations"])


@router.post("", status_code=status.HTTP_201_CREATED)
def post_org(data: OrgCreate, session: SessionDep, actor: AdminActor) -> OrgPublic:
    """Create an organisation (admin)."""
    return orgs.add_org(session=session, actor=actor, data=data)


@router.get("/{code}")
def read_org(code: str, session: SessionDep, actor: CurrentActor) -> OrgPublic:
    return orgs.read_org(session=session, actor=actor, code=code)


@router.get("/{code}/children")
def read_children(code: str, session: SessionDep, actor: CurrentActor) -> list[OrgPublic]:
    return orgs.children(session=session, actor=actor, code=code)
