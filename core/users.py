"""Creating users from the shell and the demo seeder: ``services.accounts.add_user`` (the token
and the setup code are returned once, only their hashes are kept)."""

from __future__ import annotations

from sqlmodel import Session

from models.states import Role
from models.user import User


def create_user(
    session: Session, *, name: str, org_code: str, role: Role, token: str | None = None, login: str | None = None
) -> tuple[User, str]:
    from services.accounts import add_user  # the launcher's helper; moves above services with the layout

    user, token, _, _ = add_user(session, name=name, org_code=org_code, role=role, token=token, login=login)
    return user, token
