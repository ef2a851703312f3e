"""Accounts (seed 002: the superior union recovers or resets a union's account): who may manage
whose account, creating one with its one-time setup code, setting a password with it, resets,
deactivation (which ends every session and token of the user at once), a user's own password and
API tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from core.audit import append_audit, audit_action
from core.auth import Actor, hash_token, new_token
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.passwords import check_new_password, digest, hash_password, new_secret, verify_password
from models.account import ApiToken, PasswordChange, PasswordSetup, SetupCode, TokenCreate, TokenCreated, TokenPublic
from models.org import Organisation
from models.states import OrgLevel, Role, label
from models.user import AccountPublic, SetupCodeIssued, User, UserCreate, UserCreated
from services.orgs import get_org

SETUP_CODE_HOURS = 72
AUTH_CHANNEL = "unioncard_auth"  # NOTIFY payload: the id of a user whose sessions and tokens ended
_NOT_LOGIN = re.compile(r"[^a-z0-9._-]")


def _now() -> datetime:
    return datetime.now(UTC)


def may_manage(actor: Actor, org: Organisation, role: Role) -> None:
    """An admin manages every account; a reviewer the clerks' and reviewers' accounts of the
    organisations below its own (not its own organisation's: its superior does that)."""
    if actor.is_admin:
        return
    if actor.role is not Role.REVIEWER:
        raise Forbidden("role_not_allowed", "只有上级工会的审核人或管理员可以管理账号", details={"roles": ["reviewer"]})
    if org.id == actor.org_id or not org.path.startswith(actor.org_path):
        raise Forbidden("outside_scope", f"您无权管理组织 {org.code} 的账号", details={"org_code": org.code})
    if role not in (Role.CLERK, Role.REVIEWER):
        raise Forbidden("role_not_allowed", f"审核人不能创建或管理“{label(role)}”账号", details={"role": role.value})


def _login_for(session: Session, org: Organisation, role: Role) -> str:
    base = _NOT_LOGIN.sub("", f"{org.code.lower()}-{role.value.replace('_', '-')}")[:34] or "user"
    taken = set(session.exec(select(User.login).where(col(User.login).startswith(base))).all())
    n = 1
    while (login := base if n == 1 else f"{base}-{n}") in taken:
        n += 1
    return login


def add_user(
    session: Session,
    *,
    name: str,
    org_code: str,
    role: Role,
    login: str | None = None,
    token: str | None = None,
    created_by: int | None = None,
) -> tuple[User, str, str, datetime]:
    """A user with an API token and a setup code (both shown once): (user, token, code, code's expiry).
    No authorisation here: the callers (``create_account``, the demo seeder) decide."""
    org = get_org(session, org_code)
    if role is Role.CENTER_REVIEWER and org.level is not OrgLevel.CITY:
        raise Invalid("invalid_role_for_org", "职工保障互助中心审核员须属于市总工会")
    login = login or _login_for(session, org, role)
    if session.exec(select(User.id).where(User.login == login)).first() is not None:
        raise Conflict("login_taken", f"登录名 {login} 已被使用", details={"field": "login"})
    user = User(login=login, name=name, org_id=org.id or 0, role=role)
    session.add(user)
    session.flush()
    token = token or new_token()
    session.add(ApiToken(user_id=user.id or 0, name="初始令牌", token_hash=hash_token(token)))
    code, expires = _issue_code(session, user, "setup", created_by)
    return user, token, code, expires


def create_user(
    session: Session, *, name: str, org_code: str, role: Role, token: str | None = None, login: str | None = None
) -> tuple[User, str]:
    """``add_user`` for callers that need only the user and its token (the demo seeder, tests)."""
    user, token, _, _ = add_user(session, name=name, org_code=org_code, role=role, token=token, login=login)
    return user, token


def _issue_code(session: Session, user: User, purpose: str, created_by: int | None) -> tuple[str, datetime]:
    """A new setup code for ``user``; earlier unused ones stop working."""
    now = _now()
    for old in session.exec(select(SetupCode).where(SetupCode.user_id == user.id, col(SetupCode.used_at).is_(None))):
        old.used_at = now
    code = new_secret()
    expires = now + timedelta(hours=SETUP_CODE_HOURS)
    session.add(
        SetupCode(
            user_id=user.id or 0,
            code_hash=digest(code),
            purpose=purpose,
            created_by=created_by,
            created_at=now,
            expires_at=expires,
        )
    )
    return code, expires


def create_account(*, session: Session, actor: Actor | None, data: UserCreate) -> UserCreated:
    """A new account, audited; ``actor`` None: the shell (``unioncard user add``), which may create any."""
    org = get_org(session, data.org_code)
    if actor is not None:
        may_manage(actor, org, data.role)
    user, token, code, expires = add_user(
        session,
        name=data.name,
        org_code=data.org_code,
        role=data.role,
        login=data.login,
        created_by=actor.user_id if actor else None,
    )
    _audit(session, actor, "user.created", user, f"创建账号 {user.login}（{user.name}，{label(user.role)}）")
    session.commit()
    return UserCreated(
        id=user.id or 0,
        login=user.login,
        name=user.name,
        org_code=org.code,
        role=user.role,
        token=token,
        setup_code=code,
        setup_expires_at=expires,
    )


OPERATOR = "命令行操作员"
_SHELL = Actor(
    user_id=0, name=OPERATOR, role=Role.ADMIN, org_id=0, org_code="", org_path=""
)  # who acts when the shell (``unioncard user ...``) calls with no actor


def _account(session: Session, actor: Actor | None, login: str) -> tuple[User, Organisation]:
    user = session.exec(select(User).where(User.login == login.strip().lower())).first()
    if user is None:
        raise NotFound("user_not_found", f"账号 {login} 不存在")
    org = session.get(Organisation, user.org_id)
    assert org is not None
    if actor is not None:
        may_manage(actor, org, user.role)
    return user, org


def _audit(session: Session, actor: Actor | None, action: str, user: User, summary: str) -> None:
    if actor is not None:
        audit_action(session, actor, action, ("user", user.id or 0), summary, org_id=user.org_id)
    else:
        append_audit(
            session,
            actor_id=None,
            actor_name=OPERATOR,
            org_id=user.org_id,
            action=action,
            entity_type="user",
            entity_id=user.id or 0,
            summary=summary,
        )


def _public(user: User, org_code: str) -> AccountPublic:
    return AccountPublic(
        id=user.id or 0,
        login=user.login,
        name=user.name,
        org_code=org_code,
        role=user.role,
        active=user.active,
        password_set=user.password_hash is not None,
        created_at=user.created_at,
        deactivated_at=user.deactivated_at,
    )


def list_accounts(
    *, session: Session, actor: Actor | None, org_code: str | None, page: int, size: int
) -> list[AccountPublic]:
    """The accounts the actor may manage (every one from the shell), of one organisation and
    everything below it."""
    actor = actor or _SHELL
    if not actor.is_admin and actor.role is not Role.REVIEWER:
        raise Forbidden("role_not_allowed", "只有上级工会的审核人或管理员可以管理账号", details={"roles": ["reviewer"]})
    query = select(User, Organisation).join(Organisation, col(Organisation.id) == col(User.org_id))
    if org_code:
        org = get_org(session, org_code)
        if not actor.is_admin and not org.path.startswith(actor.org_path):
            raise Forbidden("outside_scope", f"您无权管理组织 {org.code} 的账号", details={"org_code": org.code})
        query = query.where(col(Organisation.path).startswith(org.path))
    if not actor.is_admin:
        query = query.where(col(Organisation.path).startswith(actor.org_path), Organisation.id != actor.org_id)
        query = query.where(col(User.role).in_([Role.CLERK, Role.REVIEWER]))
    rows = session.exec(query.order_by(col(Organisation.path), col(User.login)).offset((page - 1) * size).limit(size))
    return [_public(u, o.code) for u, o in rows]


def ended(session: Session, user_id: int) -> None:
    """Every process forgets what it cached of the user when the transaction commits."""
    session.execute(text("SELECT pg_notify(:channel, :user_id)"), {"channel": AUTH_CHANNEL, "user_id": str(user_id)})


def end_sessions(session: Session, user_id: int, keep: str | None = None) -> int:
    result = session.execute(
        text("UPDATE web_sessions SET ended_at = now() WHERE user_id = :u AND ended_at IS NULL AND id <> :keep"),
        {"u": user_id, "keep": keep or ""},
    )
    ended(session, user_id)
    return int(getattr(result, "rowcount", 0) or 0)


def deactivate(*, session: Session, actor: Actor | None, login: str) -> AccountPublic:
    """The account stops at once: its sessions end, its tokens are refused (every API process is told)."""
    user, org = _account(session, actor, login)
    if actor is not None and user.id == actor.user_id:
        raise Conflict("own_account", "不能停用自己的账号")
    if user.active:
        user.active, user.deactivated_at = False, _now()
        closed = end_sessions(session, user.id or 0)
        _audit(session, actor, "user.deactivated", user, f"停用账号 {user.login}（结束会话 {closed} 个）")
    session.commit()
    return _public(user, org.code)


def reactivate(*, session: Session, actor: Actor | None, login: str) -> AccountPublic:
    user, org = _account(session, actor, login)
    if not user.active:
        user.active, user.deactivated_at = True, None
        _audit(session, actor, "user.reactivated", user, f"重新启用账号 {user.login}")
    session.commit()
    return _public(user, org.code)


def reset(*, session: Session, actor: Actor | None, login: str) -> SetupCodeIssued:
    """A new setup code (the old password keeps working until the new one is set)."""
    user, _ = _account(session, actor, login)
    code, expires = _issue_code(session, user, "reset", actor.user_id if actor else None)
    _audit(session, actor, "user.reset", user, f"为账号 {user.login} 生成重置码")
    session.commit()
    return SetupCodeIssued(login=user.login, setup_code=code, setup_expires_at=expires)


def set_password_with_code(*, session: Session, data: PasswordSetup) -> None:
    """The user sets a password with a setup code: once, before it expires; every session ends."""
    refused = Invalid(
        "invalid_setup_code", "设置码无效、已使用或已过期，请联系上级工会重新生成", details={"field": "setup_code"}
    )
    user = session.exec(select(User).where(User.login == data.login.strip().lower())).first()
    code = session.exec(select(SetupCode).where(SetupCode.code_hash == digest(data.setup_code.strip()))).first()
    now = _now()
    if user is None or code is None or code.user_id != user.id or code.used_at is not None or code.expires_at <= now:
        raise refused
    if not user.active:
        raise Forbidden("account_inactive", "该账号已停用")
    check_new_password(data.password, user.login)
    code.used_at = now
    user.password_hash, user.password_changed_at = hash_password(data.password), now
    end_sessions(session, user.id or 0)
    append_audit(
        session,
        actor_id=user.id,
        actor_name=user.name,
        org_id=user.org_id,
        action="user.password_set",
        entity_type="user",
        entity_id=user.id or 0,
        summary=f"账号 {user.login} 用设置码设置了密码",
    )
    session.commit()


def change_password(*, session: Session, actor: Actor, data: PasswordChange, keep_session: str | None) -> None:
    """One's own password: the current one first; the other sessions end."""
    user = session.get(User, actor.user_id)
    assert user is not None
    if not verify_password(user.password_hash, data.current_password):
        raise Invalid("wrong_password", "当前密码不正确", details={"field": "current_password"})
    check_new_password(data.new_password, user.login)
    user.password_hash, user.password_changed_at = hash_password(data.new_password), _now()
    end_sessions(session, user.id or 0, keep=keep_session)
    audit_action(
        session,
        actor,
        "user.password_changed",
        ("user", user.id or 0),
        f"账号 {user.login} 修改了密码",
        org_id=user.org_id,
    )
    session.commit()


def _token_public(t: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=t.id or 0, name=t.name, created_at=t.created_at, expires_at=t.expires_at, revoked_at=t.revoked_at
    )


def list_tokens(*, session: Session, actor: Actor) -> list[TokenPublic]:
    rows = session.exec(select(ApiToken).where(ApiToken.user_id == actor.user_id).order_by(col(ApiToken.id)))
    return [_token_public(t) for t in rows]


def create_token(*, session: Session, actor: Actor, data: TokenCreate) -> TokenCreated:
    if data.expires_at is not None and data.expires_at <= _now():
        raise Invalid("expiry_in_past", "令牌的失效时间须晚于现在", details={"field": "expires_at"})
    token = new_token()
    row = ApiToken(user_id=actor.user_id, name=data.name, token_hash=hash_token(token), expires_at=data.expires_at)
    session.add(row)
    session.flush()
    audit_action(
        session, actor, "user.token_created", ("user", actor.user_id), f"创建访问令牌“{data.name}”", org_id=actor.org_id
    )
    session.commit()
    return TokenCreated(**_token_public(row).model_dump(), token=token)


def revoke_token(*, session: Session, actor: Actor, token_id: int) -> TokenPublic:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound("token_not_found", f"访问令牌 {token_id} 不存在")
    if row.revoked_at is None:
        row.revoked_at = _now()
        ended(session, actor.user_id)
        audit_action(
            session,
            actor,
            "user.token_revoked",
            ("user", actor.user_id),
            f"撤销访问令牌“{row.name}”",
            org_id=actor.org_id,
        )
    session.commit()
    return _token_public(row)
