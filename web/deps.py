"""Who is at the workbench: the signed-in session of the cookie (a visitor is sent to the sign-in
page), and the CSRF token every form and htmx request of the session carries."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from api.deps import SESSION_COOKIE, get_db, live_session
from core.db import Database
from core.errors import Unauthorized
from services.sessions import CurrentSession

PREFIX = "/ui"


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


async def current_session(request: Request, db: Annotated[Database, Depends(get_db)]) -> CurrentSession:
    """The session of the request's cookie, its CSRF token checked as the API checks it; a visitor
    (or an ended session) goes to sign in."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise SignInRequired(request.url.path)
    try:
        return await live_session(request, db, cookie)
    except Unauthorized:
        raise SignInRequired(request.url.path) from None


PageSession = Annotated[CurrentSession, Depends(current_session)]


def sign_in_url(next_url: str = "/") -> str:
    return f"{PREFIX}/sign-in?next={quote(next_url)}"
