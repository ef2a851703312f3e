"""Who is calling: a browser session (a cookie, server-side in PostgreSQL, idle 30 minutes,
absolute 12 hours, with its CSRF token) or an API token; signing in with a login name and a
password, and the locks that five wrong passwords for an account, or twenty from one address,
within 15 minutes put on further tries for 15 minutes."""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from core.audit import append_audit
from core.auth import Actor, hash_token
from core.errors import AppError, Forbidden, Unauthorized
from core.passwords import digest, hash_password, needs_rehash, new_secret, verify_password
from models.account import ApiToken, SignInFailure, SignInLock, WebSession
from models.org import Organisation
from models.user import User

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
LOCK_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
ACCOUNT_LIMIT, ADDRESS_LIMIT = 5, 20
TOUCH_EVERY = timedelta(seconds=60)  # a session's last use is written at most this often


class Locked(AppError):
    status_code = 429


@dataclass(frozen=True)
class SignedIn:
    cookie: str  # the cookie's value (only its hash is stored)
    csrf_token: str
    user: User
    org: Organisation


def _now() -> datetime:
    return datetime.now(UTC)


def actor_of(user: User, org: Organisation) -> Actor:
    return Actor(
        user_id=user.id or 0,
        name=user.name,
        role=user.role,
        org_id=org.id or 0,
        org_code=org.code,
        org_path=org.path,
        login=user.login,
    )


def actor_for_token(session: Session, token: str) -> Actor:
    """The active user an API token belongs to, unless revoked or expired (401 otherwise)."""
    return token_grant(session, token)[0]


def token_grant(session: Session, token: str) -> tuple[Actor, datetime | None]:
    """The token's actor and when the token expires (None: never); 401 when it does not work."""
    row = session.exec(
        select(User, Organisation, ApiToken.expires_at)
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .join(Organisation, col(Organisation.id) == col(User.org_id))
        .where(ApiToken.token_hash == hash_token(token), col(ApiToken.revoked_at).is_(None))
        .where(col(ApiToken.expires_at).is_(None) | (col(ApiToken.expires_at) > _now()))
    ).first()
    if row is None or not row[0].active:
        raise Unauthorized("invalid_token", "访问令牌无效或已停用")
    return actor_of(row[0], row[1]), row[2]


def _locked_until(session: Session, login: str, client: str, now: datetime) -> datetime | None:
    keys = [f"login:{login}", f"client:{client}"]
    locks = session.exec(select(SignInLock).where(col(SignInLock.key).in_(keys), SignInLock.until > now)).all()
    return max((lock.until for lock in locks), default=None)


def _lock(session: Session, key: str, now: datetime) -> None:
    session.execute(
        text(
            """INSERT INTO sign_in_locks (key, until) VALUES (:key, :until)
               ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until"""
        ),
        {"key": key, "until": now + LOCK_FOR},
    )


def _refused(session: Session, login: str, client: str, user: User | None, now: datetime) -> None:
    """Count a failed sign-in; past a limit, lock the account or the address for 15 minutes."""
    session.add(SignInFailure(login=login, client=client, at=now))
    session.flush()
    since = now - LOCK_WINDOW
    by_login = session.exec(
        select(SignInFailure.id).where(SignInFailure.login == login, SignInFailure.at > since)
    ).all()
    by_client = session.exec(
        select(SignInFailure.id).where(SignInFailure.client == client, SignInFailure.at > since)
    ).all()
    org_id = user.org_id if user else None
    summary = f"登录失败：{login}"
    if len(by_login) >= ACCOUNT_LIMIT:
        _lock(session, f"login:{login}", now)
        summary += f"；15 分钟内第 {len(by_login)} 次，账号锁定 15 分钟"
    if len(by_client) >= ADDRESS_LIMIT:
        _lock(session, f"client:{client}", now)
        summary += f"；同一地址 15 分钟内第 {len(by_client)} 次，地址锁定 15 分钟"
    append_audit(
        session,
        actor_id=user.id if user else None,
        actor_name=login,
        org_id=org_id,
        action="session.refused",
        entity_type="user",
        entity_id=(user.id or 0) if user else login,
        summary=summary,
    )
    session.execute(text("DELETE FROM sign_in_failures WHERE at < now() - interval '1 day'"))
    session.commit()


def _locked(until: datetime, now: datetime) -> Locked:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    minutes = (seconds + 59) // 60
    return Locked(
        "account_locked",
        f"登录失败次数过多，请 {minutes} 分钟后再试",
        details={"retry_after_seconds": seconds},
        headers={"Retry-After": str(seconds)},
    )


def sign_in(*, session: Session, login: str, password: str, client: str) -> SignedIn:
    """A new session for the right password (401 ``invalid_credentials`` otherwise, the same for an
    unknown login name); 403 ``account_inactive`` for a deactivated account; 429 while locked."""
    login = login.strip().lower()
    now = _now()
    until = _locked_until(session, login, client, now)
    if until is not None:
        raise _locked(until, now)
    row = session.exec(
        select(User, Organisation)
        .join(Organisation, col(Organisation.id) == col(User.org_id))
        .where(User.login == login)
    ).first()
    user, org = row if row else (None, None)
    if user is None or org is None or not verify_password(user.password_hash, password):
        _refused(session, login, client, user, now)
        until = _locked_until(session, login, client, now)
        if until is not None:
            raise _locked(until, now)
        raise Unauthorized("invalid_credentials", "登录名或密码不正确")
    if not user.active:
        raise Forbidden("account_inactive", "该账号已停用，请联系上级工会")
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    cookie, csrf = new_secret(), new_secret()
    session.add(
        WebSession(
            id=digest(cookie), user_id=user.id or 0, csrf_token=csrf, client=client, created_at=now, last_seen_at=now
        )
    )
    append_audit(
        session,
        actor_id=user.id,
        actor_name=user.name,
        org_id=user.org_id,
        action="session.signed_in",
        entity_type="user",
        entity_id=user.id or 0,
        summary=f"登录：{user.login}",
    )
    session.commit()
    return SignedIn(cookie, csrf, user, org)


@dataclass(frozen=True)
class CurrentSession:
    id: str
    csrf_token: str
    actor: Actor
    login: str


def session_actor(session: Session, cookie: str) -> CurrentSession:
    """The live session of a cookie (401 ``session_expired`` when ended, idle 30 minutes, older
    than 12 hours, or its user deactivated); its last use is kept."""
    now = _now()
    row = session.exec(
        select(WebSession, User, Organisation)
        .join(User, col(User.id) == col(WebSession.user_id))
        .join(Organisation, col(Organisation.id) == col(User.org_id))
        .where(WebSession.id == digest(cookie))
    ).first()
    if row is None:
        raise Unauthorized("session_expired", "登录已失效，请重新登录")
    web, user, org = row
    if web.ended_at is not None or not user.active or now - web.last_seen_at > IDLE or now - web.created_at > ABSOLUTE:
        if web.ended_at is None:
            web.ended_at = now
            session.commit()
        raise Unauthorized("session_expired", "登录已失效，请重新登录")
    if now - web.last_seen_at > TOUCH_EVERY:
        web.last_seen_at = now
    current = CurrentSession(web.id, web.csrf_token, actor_of(user, org), user.login)
    session.commit()
    return current


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def sign_out(*, session: Session, session_id: str) -> None:
    web = session.get(WebSession, session_id)
    if web is not None and web.ended_at is None:
        web.ended_at = _now()
        user = session.get(User, web.user_id)
        append_audit(
            session,
            actor_id=web.user_id,
            actor_name=user.name if user else "",
            org_id=user.org_id if user else None,
            action="session.signed_out",
            entity_type="user",
            entity_id=web.user_id,
            summary=f"退出登录：{user.login if user else ''}",
        )
    session.commit()
