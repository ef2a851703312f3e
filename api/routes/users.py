"""Users and tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminActor, CurrentActor, SessionDep
from core.audit import audit_action
from core.users import create_user
from models.states import label
from models.user import UserCreate, UserCreated, UserPublic

router = APIRouter(tags=["users"])


@router.post("/users", status_code=status.HTTP_201_CREATED)
def post_user(data: UserCreate, session: SessionDep, actor: AdminActor) -> UserCreated:
    """Create a user (admin); the token is shown in this answer only."""
    user, token = create_user(session, name=data.name, org_code=data.org_code, role=data.role)
    audit_action(
        session,
        actor,
        "user.created",
        ("user", user.id or 0),
        f"创建用户 {user.name}（{label(user.role)}）",
        org_id=user.org_id,
    )
    session.commit()
    return UserCreated(id=user.id or 0, name=user.name, org_code=data.org_code, role=user.role, token=token)


@router.get("/me")
def me(actor: CurrentActor) -> UserPublic:
    return UserPublic(id=actor.user_id, name=actor.name, org_code=actor.org_code, role=actor.role)
