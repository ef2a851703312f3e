"""Request dependencies: database session, current actor, Temporal client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Annotated

import structlog
from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select
from starlette.requests import HTTPConnection
from temporalio.client import Client

from api.attempts import client_address, count_failure
from core.auth import Actor, hash_token, require_role
from core.db import Database
from core.errors import Unauthorized, Unavailable
from core.settings import Settings
from core.temporal import connect
from models.inputs import YEAR_MAX, YEAR_MIN
from models.org import Organisation
from models.states import Role
from models.user import User

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
    round trip to know who asks. An entry lives ``seconds``; a refused token is never kept."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds, self.size = seconds, size
        self._actors: dict[str, tuple[Actor, float]] = {}

    def get(self, token_hash: str) -> Actor | None:
        entry = self._actors.get(token_hash)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, token_hash: str, actor: Actor) -> None:
        if self.seconds <= 0:
            return
        if len(self._actors) >= self.size:  # forget the expired ones, or else everyone
            now = time.monotonic()
            self._actors = {k: v for k, v in self._actors.items() if v[1] >= now}
            if len(self._actors) >= self.size:
                self._actors.clear()
        self._actors[token_hash] = (actor, time.monotonic() + self.seconds)


async def get_actor(
    request: Request, db: Annotated[Database, Depends(get_db)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:  # fmt: skip
    """The caller: from this process's token cache, or else looked up in a worker thread (the event
    loop never waits for the database)."""
    if creds is None or not creds.credentials:
        raise Unauthorized("missing_token", "请提供访问令牌（Authorization: Bearer ...）")
    tokens: TokenCache = request.app.state.tokens
    token_hash = hash_token(creds.credentials)
    actor = tokens.get(token_hash)
    if actor is None:
        actor = await run_in_threadpool(_look_up, db, request, creds.credentials)
        tokens.put(token_hash, actor)
    return actor


def _look_up(db: Database, connection: HTTPConnection, token: str) -> Actor:
    with db.session() as session:
        return checked_actor(session, connection, token)


def checked_actor(session: Session, connection: HTTPConnection, token: str) -> Actor:
    """The token's actor; a refused token counts against its client address (429 past the limit)."""
    try:
        return actor_for_token(session, token)
    except Unauthorized:
        session.rollback()
        count_failure(session, connection.app.state.settings, client_address(connection))
        raise


def actor_for_token(session: Session, token: str) -> Actor:
    """The active user a token belongs to (401 otherwise)."""
    row = session.exec(
        select(User, Organisation)
        .join(Organisation, Organisation.id == User.org_id)  # type: ignore[arg-type]
        .where(User.token_hash == hash_token(token))
    ).first()
    if row is None or not row[0].active:
        raise Unauthorized("invalid_token", "访问令牌无效或已停用")
    user, org = row
    actor = Actor(
        user_id=user.id or 0, name=user.name, role=user.role, org_id=org.id or 0, org_code=org.code, org_path=org.path
    )
    # End the read transaction: the connection goes back to the pool until the handler needs one
    # (an async handler must not wait for a connection that requests queued behind it hold).
    session.commit()
    return actor


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

CODEC_COOKIE = "unioncard_codec"


def get_codec_admin(
    request: Request, session: SessionDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    """An admin by bearer token (Temporal's CLI) or by the codec cookie the sign-in page sets (the
    web UI sends cookies when its codec setting "include cross-origin credentials" is on)."""
    token = creds.credentials if creds and creds.credentials else request.cookies.get(CODEC_COOKIE)
    if not token:
        raise Unauthorized("missing_token", "请提供访问令牌（Authorization: Bearer ...），或先在 /codec/sign-in 登录")
    actor = checked_actor(session, request, token)
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
