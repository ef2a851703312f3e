"""Accounts (the superior union manages those below it), a user's own password and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from api.deps import AccountManager, CurrentActor, SessionDep
from models.account import PasswordChange, PasswordSetup, TokenCreate, TokenCreated, TokenPublic
from models.inputs import INT4_MAX, PAGE_MAX
from models.user import AccountPublic, SetupCodeIssued, UserCreate, UserCreated, UserPublic
from services import accounts

router = APIRouter(tags=["users"])

LoginPath = str


class MePublic(UserPublic):
    csrf_token: str | None = Field(None, description="Signed in with a session: send it as X-CSRF-Token.")


@router.post("/users", status_code=status.HTTP_201_CREATED)
def post_user(data: UserCreate, session: SessionDep, actor: AccountManager) -> UserCreated:
    """Create an account (an admin anywhere; a reviewer for the organisations below its own): its API
    token and its setup code are shown in this answer only."""
    return accounts.create_account(session=session, actor=actor, data=data)


@router.get("/users")
def list_users(
    session: SessionDep,
    actor: AccountManager,
    org: str | None = Query(None, max_length=32, description="An organisation and everything below it"),
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(100, ge=1, le=500),
) -> list[AccountPublic]:
    """The accounts the caller may manage."""
    return accounts.list_accounts(session=session, actor=actor, org_code=org, page=page, size=size)


def _forget(request: Request, account: AccountPublic) -> AccountPublic:
    request.app.state.tokens.forget_user(account.id)  # this process at once; the others by NOTIFY
    return account


@router.post("/users/{login}/deactivate")
def deactivate_user(login: LoginPath, request: Request, session: SessionDep, actor: AccountManager) -> AccountPublic:
    """Stop the account: its sessions end and its tokens are refused at once."""
    return _forget(request, accounts.deactivate(session=session, actor=actor, login=login))


@router.post("/users/{login}/reactivate")
def reactivate_user(login: LoginPath, session: SessionDep, actor: AccountManager) -> AccountPublic:
    return accounts.reactivate(session=session, actor=actor, login=login)


@router.post("/users/{login}/reset")
def reset_user(login: LoginPath, session: SessionDep, actor: AccountManager) -> SetupCodeIssued:
    """A new setup code for a forgotten password (shown once, 72 hours)."""
    return accounts.reset(session=session, actor=actor, login=login)


@router.post("/accounts/setup", status_code=status.HTTP_204_NO_CONTENT)
async def setup_password(data: PasswordSetup, request: Request, session: SessionDep) -> None:
    """Set one's password with a setup code (once; every earlier session ends). No token needed."""
    await run_in_threadpool(accounts.set_password_with_code, session=session, data=data)


@router.get("/me")
def me(request: Request, actor: CurrentActor) -> MePublic:
    """Who is calling, and (signed in with a session) the session's CSRF token."""
    current = getattr(request.state, "web_session", None)
    return MePublic(
        id=actor.user_id,
        login=actor.login,
        name=actor.name,
        org_code=actor.org_code,
        role=actor.role,
        csrf_token=current.csrf_token if current else None,
    )


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(data: PasswordChange, request: Request, session: SessionDep, actor: CurrentActor) -> None:
    """Change one's own password (the current one first); one's other sessions end."""
    current = getattr(request.state, "web_session", None)
    accounts.change_password(session=session, actor=actor, data=data, keep_session=current.id if current else None)
    request.app.state.tokens.forget_user(actor.user_id)


@router.get("/me/tokens")
def my_tokens(session: SessionDep, actor: CurrentActor) -> list[TokenPublic]:
    return accounts.list_tokens(session=session, actor=actor)


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
def new_token(data: TokenCreate, session: SessionDep, actor: CurrentActor) -> TokenCreated:
    """A named API token (optional expiry), shown in this answer only."""
    return accounts.create_token(session=session, actor=actor, data=data)


@router.delete("/me/tokens/{token_id}")
def revoke_token(
    request: Request, session: SessionDep, actor: CurrentActor, token_id: int = Path(ge=1, le=INT4_MAX)
) -> TokenPublic:
    revoked = accounts.revoke_token(session=session, actor=actor, token_id=token_id)
    request.app.state.tokens.forget_user(actor.user_id)
    return revoked
