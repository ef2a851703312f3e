"""What the service tests share: a demo actor by its key, and a fresh grassroots union with its clerk."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from core.auth import Actor
from models.org import OrgCreate
from models.states import GrassrootsType, OrgLevel, Role
from models.user import UserCreate
from services import accounts
from services.orgs import create_org
from services.sessions import actor_for_token


def who(session: Session, tokens: dict[str, str], key: str) -> Actor:
    return actor_for_token(session, tokens[key])


def new_union(session: Session, tokens: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A grassroots union of district 101 without members, and the demo tokens with its clerk's
    (``clerk@new``)."""
    code = f"101-T{uuid.uuid4().hex[:5]}"
    create_org(session, OrgCreate(code=code, name=f"测试单位{code}工会委员会", level=OrgLevel.GRASSROOTS,
                                  parent_code="101", grassroots_type=GrassrootsType.COMMITTEE))  # fmt: skip
    session.commit()
    clerk = accounts.create_account(
        session=session, actor=who(session, tokens, "admin@SH"),
        data=UserCreate(name="测试经办人", org_code=code, role=Role.CLERK),
    )  # fmt: skip
    return code, {**tokens, "clerk@new": clerk.token}
