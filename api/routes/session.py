"""Signing in and out of a browser session: ``POST /session`` with ``login`` and ``password``
(form-encoded or JSON) sets the session cookie (HttpOnly, SameSite=Lax, Secure over https)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.attempts import client_address, over_https
from api.deps import SESSION_COOKIE, CurrentActor, SessionDep
from core.errors import Invalid
from models.account import SessionPublic, SignIn
from services import sessions
from services.sessions import ABSOLUTE

router = APIRouter(tags=["session"])

_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SignIn.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": SignIn.model_json_schema()},
        },
    }
}


async def _credentials(request: Request) -> SignIn:
    data: Any
    if request.headers.get("content-type", "").startswith(_FORM):
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        try:
            data = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            data = None
    try:
        return SignIn.model_validate(data)
    except ValidationError:
        fields = {"fields": ["login", "password"]}
        raise Invalid("invalid_credentials_form", "请填写登录名和密码", details=fields) from None


@router.post("/session", openapi_extra=_BODY)
async def sign_in(request: Request, response: Response, session: SessionDep) -> SessionPublic:
    """Sign in: 401 ``invalid_credentials``, 403 ``account_inactive``, 429 ``account_locked``
    (five wrong passwords for an account, or twenty from one address, within 15 minutes)."""
    given = await _credentials(request)
    done = await run_in_threadpool(
        lambda: sessions.sign_in(
            session=session, login=given.login, password=given.password, client=client_address(request)
        )
    )
    response.set_cookie(
        SESSION_COOKIE,
        done.cookie,
        max_age=int(ABSOLUTE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path="/",
    )
    return SessionPublic(
        login=done.user.login,
        name=done.user.name,
        role=done.user.role.value,
        org_code=done.org.code,
        csrf_token=done.csrf_token,
    )


@router.delete("/session", status_code=204)
def sign_out(request: Request, response: Response, session: SessionDep, actor: CurrentActor) -> None:
    """Sign out (a session's request: with its CSRF token)."""
    current = getattr(request.state, "web_session", None)
    if current is not None:
        sessions.sign_out(session=session, session_id=current.id)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
