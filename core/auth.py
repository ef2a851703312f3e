"""Bearer tokens (random, shown once, stored hashed) and the organisation scope rules."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlmodel import Session

from core.errors import Forbidden, NotFound
from models.org import Organisation
from models.states import Role, label

TOKEN_PREFIX = "uc_"  # noqa: S105  (a prefix, not a secret)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user of one organisation with one role."""

    user_id: int
    name: str
    role: Role
    org_id: int
    org_code: str
    org_path: str
    login: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def covers(self, org: Organisation) -> bool:
        """Clerks act on their own organisation, reviewers on its subtree, admins anywhere."""
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.CLERK:
            return org.id == self.org_id
        return org.path.startswith(self.org_path)


def require(actor: Actor, org: Organisation, *roles: Role) -> None:
    """Refuse (403) unless the actor has one of ``roles`` (any role if none given) and covers ``org``."""
    if roles and actor.role not in roles and not actor.is_admin:
        allowed = "、".join(label(r) for r in roles)
        raise Forbidden("role_not_allowed", f"此操作需要以下角色之一：{allowed}", details={"roles": list(roles)})
    if not actor.covers(org):
        raise Forbidden("outside_scope", f"您无权操作组织 {org.code}", details={"org_code": org.code})


class _OfOrg(Protocol):
    org_id: int


R = TypeVar("R", bound=_OfOrg)


def load_in_scope(
    session: Session, model: type[R], key: Any, actor: Actor, missing: NotFound
) -> tuple[R, Organisation]:
    """A row that belongs to an organisation, and that organisation: ``missing`` (404) when there is
    no such row, 403 when the actor does not cover its organisation."""
    row = session.get(model, key)
    if row is None:
        raise missing
    org = session.get(Organisation, row.org_id)
    assert org is not None
    require(actor, org)
    return row, org


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles and not actor.is_admin:
        allowed = "、".join(label(r) for r in roles)
        raise Forbidden("role_not_allowed", f"此操作需要以下角色之一：{allowed}", details={"roles": list(roles)})
