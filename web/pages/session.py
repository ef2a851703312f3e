"""Signing in and out, one's password and API tokens, at the workbench."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.attempts import client_address, over_https
from api.deps import SESSION_COOKIE, SessionDep
from core.errors import AppError
from models.account import PasswordChange, PasswordSetup, TokenCreate
from services import accounts, sessions
from services.sessions import ABSOLUTE
from web.deps import PREFIX, PageSession
from web.render import page, refusal

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _safe_next(next_url: str | None) -> str:
    """Only a path of our own (never another site's address)."""
    return next_url if next_url and next_url.startswith("/") and not next_url.startswith("//") else "/"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "sign_in.html", next_url=_safe_next(next))


@router.post("/sign-in")
async def sign_in(
    request: Request,
    session: SessionDep,
    login: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    client = client_address(request)
    try:
        done = await run_in_threadpool(
            lambda: sessions.sign_in(session=session, login=login, password=password, client=client)
        )
    except AppError as exc:
        status = exc.status_code
        return page(
            request, "sign_in.html", status_code=status, error=refusal(exc), login=login, next_url=_safe_next(next)
        )
    answer = RedirectResponse(_safe_next(next), status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        done.cookie,
        max_age=int(ABSOLUTE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path="/",
    )
    return answer


@router.post("/sign-out")
def sign_out(session: SessionDep, current: PageSession) -> Response:
    sessions.sign_out(session=session, session_id=current.id)
    answer = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return answer


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, current: PageSession) -> HTMLResponse:
    return page(request, "password.html", current)


@router.post("/password")
def change_password(
    request: Request,
    session: SessionDep,
    current: PageSession,
    current_password: Annotated[str, Form(max_length=200)],
    new_password: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        data = PasswordChange(current_password=current_password, new_password=new_password)
        accounts.change_password(session=session, actor=current.actor, data=data, keep_session=current.id)
    except AppError as exc:
        return page(request, "password.html", current, status_code=exc.status_code, error=refusal(exc))
    request.app.state.tokens.forget_user(current.actor.user_id)
    return RedirectResponse(f"/?done={quote('密码已修改')}", status_code=303)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, session: SessionDep, current: PageSession) -> HTMLResponse:
    return page(request, "tokens.html", current, tokens=accounts.list_tokens(session=session, actor=current.actor))


@router.post("/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, session: SessionDep, current: PageSession, name: Annotated[str, Form(max_length=60)]
) -> HTMLResponse:
    try:
        created = accounts.create_token(session=session, actor=current.actor, data=TokenCreate(name=name))
    except (AppError, ValueError) as exc:
        error = refusal(exc) if isinstance(exc, AppError) else {"code": "invalid_request", "message": "名称不正确"}
        listed = accounts.list_tokens(session=session, actor=current.actor)
        return page(request, "tokens.html", current, status_code=422, error=error, tokens=listed)
    listed = accounts.list_tokens(session=session, actor=current.actor)
    return page(request, "tokens.html", current, status_code=201, created=created, tokens=listed)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, session: SessionDep, current: PageSession, token_id: int) -> Response:
    accounts.revoke_token(session=session, actor=current.actor, token_id=token_id)
    request.app.state.tokens.forget_user(current.actor.user_id)
    return RedirectResponse(f"{PREFIX}/tokens?done={quote('令牌已撤销')}", status_code=303)


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request) -> HTMLResponse:
    return page(request, "setup.html")


@router.post("/setup")
async def setup(
    request: Request,
    session: SessionDep,
    login: Annotated[str, Form(max_length=40)],
    setup_code: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    """A new password with the setup code (no session needed: the user has none yet)."""
    try:
        data = PasswordSetup(login=login, setup_code=setup_code, password=password)
        await run_in_threadpool(accounts.set_password_with_code, session=session, data=data)
    except AppError as exc:
        return page(request, "setup.html", status_code=exc.status_code, error=refusal(exc), login=login)
    return RedirectResponse(f"{PREFIX}/sign-in?done={quote('密码已设定，请登录')}", status_code=303)
