"""Who is at the workbench: the signed-in session of the cookie (a visitor is sent to the sign-in
page), and the CSRF token every form and htmx request of the session carries."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import SESSION_COOKIE, get_db
from core.db import Database
from core.errors import Forbidden, Unauthorized
from services.sessions import CurrentSession, csrf_matches, session_actor

PREFIX = "/ui"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def _look_up(db: Database, cookie: str) -> CurrentSession:
    with db.session() as session:
        return session_actor(session, cookie)


async def current_session(request: Request, db: Annotated[Database, Depends(get_db)]) -> CurrentSession:
    """The session of the request's cookie; a visitor (or an ended session) goes to sign in. A
    request that changes something carries the session's CSRF token (form field or header)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInRequired(request.url.path)
    try:
        current = await run_in_threadpool(_look_up, db, cookie)
    except Unauthorized:
        raise SignInRequired(request.url.path) from None
    request.state.web_session = current
    if request.method not in _SAFE:
        given = request.headers.get("x-csrf-token")
        if not given:
            form = await request.form()
            field = form.get("csrf_token")
            given = field if isinstance(field, str) else None
        if not csrf_matches(current.csrf_token, given):
            raise Forbidden("csrf", "请求缺少有效的 CSRF 令牌，请刷新页面后重试")
    return current


PageSession = Annotated[CurrentSession, Depends(current_session)]


def sign_in_url(next_url: str = "/") -> str:
    return f"{PREFIX}/sign-in?next={quote(next_url)}"
