"""Request dependencies: database session, current actor, Temporal client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.requests import HTTPConnection
from temporalio.client import Client

from api.attempts import client_address, count_failure
from core.auth import Actor, hash_token, require_role
from core.db import Database
from core.errors import Forbidden, Unauthorized, Unavailable
from core.settings import Settings
from core.temporal import connect
from models.inputs import YEAR_MAX, YEAR_MIN
from models.states import Role
from services.sessions import CurrentSession, csrf_matches, session_actor, token_grant
from services.waiting import TemporalSource

_bearer = HTTPBearer(auto_error=False)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
YearPath = Annotated[int, Path(ge=YEAR_MIN, le=YEAR_MAX, description="The programme year")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_db)]


class TokenCache:
    """Tokens this process looked up lately, by their hash: most requests then need no database
    round trip to know who asks. An entry lives ``seconds``; a refused token is never kept. A user
    whose sessions and tokens end (deactivation, a revoked token, a new password) is forgotten at
    once: by this process directly, by every other through PostgreSQL's NOTIFY (``AuthListener``);
    while a process cannot listen, it keeps nothing."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds, self.size = seconds, size
        self.listening = True  # False while the listener has lost its connection
        self._actors: dict[str, tuple[Actor, float]] = {}

    def get(self, token_hash: str) -> Actor | None:
        entry = self._actors.get(token_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, token_hash: str, actor: Actor, expires_at: datetime | None = None) -> None:
        """Keep ``actor`` for ``seconds``, or until the token expires if sooner."""
        if self.seconds <= 0 or not self.listening:
            return
        left = (
            self.seconds if expires_at is None else min(self.seconds, (expires_at - datetime.now(UTC)).total_seconds())
        )
        if left <= 0:
            return
        if len(self._actors) >= self.size:  # forget the expired ones, or else everyone
            now = time.monotonic()
            self._actors = {k: v for k, v in self._actors.items() if v[1] >= now}
            if len(self._actors) >= self.size:
                self._actors.clear()
        self._actors[token_hash] = (actor, time.monotonic() + left)

    def forget_user(self, user_id: int) -> None:
        self._actors = {k: v for k, v in self._actors.items() if v[0].user_id != user_id}

    def clear(self) -> None:
        self._actors = {}


SESSION_COOKIE = "unioncard_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_actor(
    request: Request, db: Annotated[Database, Depends(get_db)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:  # fmt: skip
    """The caller: a bearer token (from this process's token cache, or else looked up in a worker
    thread: the event loop never waits for the database), or a browser session's cookie, whose
    state-changing requests carry its CSRF token (``X-CSRF-Token`` or a ``csrf_token`` form field)."""
    if creds is None or not creds.credentials:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return await _session_actor(request, db, cookie)
        raise Unauthorized("missing_token", "请提供访问令牌（Authorization: Bearer ...）或先登录")
    tokens: TokenCache = request.app.state.tokens
    token_hash = hash_token(creds.credentials)
    cached = tokens.get(token_hash)
    if cached is not None:
        return cached
    actor, expires_at = await run_in_threadpool(_look_up, db, request, creds.credentials)
    tokens.put(token_hash, actor, expires_at)
    return actor


async def _session_actor(request: Request, db: Database, cookie: str) -> Actor:
    return (await live_session(request, db, cookie)).actor


async def live_session(request: Request, db: Database, cookie: str) -> CurrentSession:
    """The live session of a cookie (401 ``session_expired`` otherwise), kept on the request; a
    request that changes something carries the session's CSRF token (``X-CSRF-Token`` or a
    ``csrf_token`` form field), or is refused 403 ``csrf``. The API and the workbench both ask this."""
    current = await run_in_threadpool(look_up_session, db, cookie)
    request.state.web_session = current
    if request.method not in _SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER)
        if not given and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            field = form.get("csrf_token")
            given = field if isinstance(field, str) else None
        if not csrf_matches(current.csrf_token, given):
            raise Forbidden("csrf", "请求缺少有效的 CSRF 令牌，请刷新页面后重试")
    return current


def look_up_session(db: Database, cookie: str) -> CurrentSession:
    with db.session() as session:
        return session_actor(session, cookie)


def _look_up(db: Database, connection: HTTPConnection, token: str) -> tuple[Actor, datetime | None]:
    with db.session() as session:
        return checked_grant(session, connection, token)


def checked_actor(session: Session, connection: HTTPConnection, token: str) -> Actor:
    return checked_grant(session, connection, token)[0]


def checked_grant(session: Session, connection: HTTPConnection, token: str) -> tuple[Actor, datetime | None]:
    """The token's actor and expiry; a refused token counts against its client address (429 past
    the limit)."""
    try:
        grant = token_grant(session, token)
    except Unauthorized:
        session.rollback()
        count_failure(session, connection.app.state.settings, client_address(connection))
        raise
    # End the read transaction: the connection goes back to the pool until the handler needs one
    # (an async handler must not wait for a connection that requests queued behind it hold).
    session.commit()
    return grant


async def log_actor(request: Request, actor: Annotated[Actor, Depends(get_actor)]) -> Actor:
    """The actor, bound into the log context of the request (handlers run in threads with a copy
    of it). The middleware's request line takes it from ``request.state``."""
    fields = {"actor": actor.user_id, "role": actor.role.value, "org": actor.org_code}
    structlog.contextvars.bind_contextvars(**fields)
    request.state.log_actor = fields
    return actor


CurrentActor = Annotated[Actor, Depends(log_actor)]


def get_admin(actor: CurrentActor) -> Actor:
    """An admin, checked before the request body is looked at."""
    require_role(actor, Role.ADMIN)
    return actor


AdminActor = Annotated[Actor, Depends(get_admin)]


def get_account_manager(actor: CurrentActor) -> Actor:
    """An admin or a reviewer (who manages the accounts below its organisation), checked before
    the request body is looked at; the service checks the organisation."""
    require_role(actor, Role.ADMIN, Role.REVIEWER)
    return actor


AccountManager = Annotated[Actor, Depends(get_account_manager)]

CODEC_COOKIE = "unioncard_codec"


def get_codec_admin(
    request: Request, session: SessionDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """An admin by bearer token (Temporal's CLI) or by the codec cookie the sign-in page sets (the
    web UI sends cookies when its codec setting "include cross-origin credentials" is on)."""
    token = creds.credentials if creds and creds.credentials else request.cookies.get(CODEC_COOKIE)
    if not token:
        raise Unauthorized("missing_token", "请提供访问令牌（Authorization: Bearer ...），或先在 /codec/sign-in 登录")
    return admin_by_token(session, request, token)


def admin_by_token(session: Session, connection: HTTPConnection, token: str) -> Actor:
    """The admin a token belongs to (401 for a bad token, counted against its address; 403 for
    another role)."""
    actor = checked_actor(session, connection, token)
    require_role(actor, Role.ADMIN)
    return actor


CodecAdmin = Annotated[Actor, Depends(get_codec_admin)]

_client_lock = asyncio.Lock()


async def get_temporal(request: Request) -> Client:
    """The shared Temporal client, connected on first use so the API starts without Temporal."""
    client: Client | None = request.app.state.temporal
    if client is not None:
        return client
    async with _client_lock:
        if request.app.state.temporal is None:
            try:
                request.app.state.temporal = await asyncio.wait_for(connect(request.app.state.settings), 5)
            except Exception as exc:
                raise Unavailable("temporal_unavailable", "工作流服务暂时不可用，请稍后再试") from exc
    result: Client = request.app.state.temporal
    return result


TemporalDep = Annotated[Client, Depends(get_temporal)]


def temporal_source(request: Request) -> TemporalSource:
    """The Temporal client, connected when first asked for (views shown without it when away)."""
    return lambda: get_temporal(request)


TemporalSourceDep = Annotated[TemporalSource, Depends(temporal_source)]
