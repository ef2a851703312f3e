"""Creating users: the token is returned once, only its hash is kept."""

from __future__ import annotations

from sqlmodel import Session

from core.auth import hash_token, new_token
from core.errors import Invalid
from core.orgs import get_org
from models.states import OrgLevel, Role
from models.user import User


def create_user(
    session: Session, *, name: str, org_code: str, role: Role, token: str | None = None
) -> tuple[User, str]:
    org = get_org(session, org_code)
    if role is Role.CENTER_REVIEWER and org.level is not OrgLevel.CITY:
        raise Invalid("invalid_role_for_org", "职工保障互助中心审核员须属于市总工会")
    token = token or new_token()
    user = User(name=name, org_id=org.id or 0, role=role, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token
