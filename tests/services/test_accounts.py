"""Accounts through the services, without HTTP: who manages whose account (an admin anywhere, a
reviewer the clerks' and reviewers' accounts below its organisation), setup codes (once, 72
hours, a reset replaces them), the password rules, deactivation ending sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from core.auth import Actor
from core.errors import AppError
from core.passwords import digest
from models.account import PasswordSetup, SetupCode, WebSession
from models.states import Role
from models.user import User, UserCreate
from services import accounts, sessions
from services.sessions import actor_of


def actor(session: Session, login: str) -> Actor:
    user = session.exec(select(User).where(User.login == login)).one()
    from models.org import Organisation

    org = session.get(Organisation, user.org_id)
    assert org is not None
    return actor_of(user, org)


def refused(expected: str, call: object, **kw: object) -> AppError:
    with pytest.raises(AppError) as caught:
        call(**kw)  # type: ignore[operator]
    assert caught.value.code == expected, caught.value.message
    return caught.value


def new(session: Session, by: Actor, org: str, role: Role = Role.CLERK, login: str | None = None) -> str:
    made = accounts.create_account(
        session=session, actor=by, data=UserCreate(name="新账号", org_code=org, role=role, login=login)
    )
    return made.login


def test_who_manages_whose_account(session: Session) -> None:
    district = actor(session, "101-reviewer")
    admin = actor(session, "sh-admin")
    clerk = actor(session, "101-0001-clerk")
    login = new(session, district, "101-0001")  # a union below the district
    assert login.startswith("101-0001-clerk")
    assert new(session, district, "101-S01", Role.REVIEWER)  # a secondary union's reviewer
    refused("outside_scope", new, session=session, by=district, org="104-0001")  # another district
    refused("outside_scope", new, session=session, by=district, org="101", role=Role.REVIEWER)  # its own: the city's
    refused("role_not_allowed", new, session=session, by=district, org="101-0001", role=Role.ADMIN)
    refused("role_not_allowed", new, session=session, by=clerk, org="101-0001")
    assert new(session, admin, "104-0001", login="xuhui-clerk-a")  # an admin anywhere
    refused("login_taken", new, session=session, by=admin, org="104-0001", login="xuhui-clerk-a")
    seen = {a.login for a in accounts.list_accounts(session=session, actor=district, org_code=None, page=1, size=500)}
    assert login in seen and "xuhui-clerk-a" not in seen and "101-reviewer" not in seen  # below it only
    refused("outside_scope", accounts.list_accounts, session=session, actor=district, org_code="104", page=1, size=5)
    refused("outside_scope", accounts.deactivate, session=session, actor=district, login="xuhui-clerk-a")
    refused("outside_scope", accounts.reset, session=session, actor=district, login="101-reviewer")


def test_a_setup_code_sets_a_password_once_before_it_expires(session: Session) -> None:
    admin = actor(session, "sh-admin")
    made = accounts.create_account(
        session=session,
        actor=admin,
        data=UserCreate(name="甲", org_code="104-0001", role=Role.CLERK, login="setup-once"),
    )
    assert made.setup_expires_at - datetime.now(UTC) > timedelta(hours=71)

    def setup(code: str, password: str = "Huangpu-2026-ok") -> None:
        accounts.set_password_with_code(
            session=session, data=PasswordSetup(login="setup-once", setup_code=code, password=password)
        )

    refused("weak_password", setup, code=made.setup_code, password="short1!")
    refused("weak_password", setup, code=made.setup_code, password="my-setup-once-pw")  # holds the login name
    refused("weak_password", setup, code=made.setup_code, password="password123")  # a common one
    refused("invalid_setup_code", setup, code="not-the-code")
    setup(made.setup_code)
    refused("invalid_setup_code", setup, code=made.setup_code)  # used: once only
    signed = sessions.sign_in(session=session, login="setup-once", password="Huangpu-2026-ok", client="10.9.0.1")
    assert signed.user.login == "setup-once"

    first = accounts.reset(session=session, actor=admin, login="setup-once")
    second = accounts.reset(session=session, actor=admin, login="setup-once")
    refused("invalid_setup_code", setup, code=first.setup_code)  # replaced by the newer one
    code = session.exec(select(SetupCode).where(SetupCode.used_at.is_(None))).all()  # type: ignore[union-attr]
    for row in code:
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    refused("invalid_setup_code", setup, code=second.setup_code)  # expired
    again = accounts.reset(session=session, actor=admin, login="setup-once")
    setup(again.setup_code, "Another-good-one-77")
    live = session.exec(select(WebSession).where(WebSession.id == digest(signed.cookie))).first()
    assert live is None or live.ended_at is not None  # a new password ends the sessions
    refused("session_expired", sessions.session_actor, session=session, cookie=signed.cookie)


def test_deactivation_ends_sessions_and_tokens_and_is_refused_on_oneself(session: Session) -> None:
    admin = actor(session, "sh-admin")
    made = accounts.create_account(
        session=session, actor=admin, data=UserCreate(name="乙", org_code="104-0001", role=Role.CLERK, login="to-stop")
    )
    accounts.set_password_with_code(
        session=session, data=PasswordSetup(login="to-stop", setup_code=made.setup_code, password="Xuhui-2026-okay")
    )
    signed = sessions.sign_in(session=session, login="to-stop", password="Xuhui-2026-okay", client="10.9.0.2")
    assert sessions.session_actor(session, signed.cookie).actor.user_id == made.id
    assert sessions.actor_for_token(session, made.token).user_id == made.id
    refused("own_account", accounts.deactivate, session=session, actor=admin, login="sh-admin")
    stopped = accounts.deactivate(session=session, actor=admin, login="to-stop")
    assert stopped.active is False and stopped.deactivated_at is not None
    refused("session_expired", sessions.session_actor, session=session, cookie=signed.cookie)
    refused("invalid_token", sessions.actor_for_token, session=session, token=made.token)
    refused(
        "account_inactive",
        sessions.sign_in,
        session=session,
        login="to-stop",
        password="Xuhui-2026-okay",
        client="10.9.0.2",
    )
    accounts.reactivate(session=session, actor=admin, login="to-stop")
    assert sessions.actor_for_token(session, made.token).user_id == made.id
