"""What signing in keeps: API tokens, one-time setup codes, browser sessions, and the failed
sign-ins that lock an account or an address for a while."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime
from pydantic import Field as BodyField
from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel

from models.base import utcnow
from models.inputs import RequestBody


def _at(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class ApiToken(SQLModel, table=True):
    """A bearer token of a user (scripts, the bank): named, optionally expiring, revocable."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=60)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at())
    expires_at: datetime | None = Field(default=None, sa_column=_at(True))
    revoked_at: datetime | None = Field(default=None, sa_column=_at(True))


class SetupCode(SQLModel, table=True):
    """A one-time code with which a user sets a password: on a new account, or after a reset."""

    __tablename__ = "setup_codes"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    purpose: str = Field(max_length=10)  # setup, reset
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at())
    expires_at: datetime = Field(sa_column=_at())
    used_at: datetime | None = Field(default=None, sa_column=_at(True))


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random value, the table its hash."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the cookie's value.")
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf_token: str = Field(max_length=64)
    client: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_at())
    ended_at: datetime | None = Field(default=None, sa_column=_at(True))


class SignInFailure(SQLModel, table=True):
    """A refused sign-in: counted per login name and per address over the last 15 minutes."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_login", "login", "at"),
        Index("ix_sign_in_failures_client", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=40)
    client: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=_at())


class SignInLock(SQLModel, table=True):
    """Sign-ins refused until ``until``: ``login:<name>`` or ``client:<address>``."""

    __tablename__ = "sign_in_locks"

    key: str = Field(primary_key=True, max_length=110)
    until: datetime = Field(sa_column=_at())


class SignIn(RequestBody):
    login: str = BodyField(min_length=1, max_length=40)
    password: str = BodyField(min_length=1, max_length=200)


class PasswordSetup(RequestBody):
    login: str = BodyField(min_length=1, max_length=40)
    setup_code: str = BodyField(min_length=1, max_length=100)
    password: str = BodyField(min_length=1, max_length=200)


class PasswordChange(RequestBody):
    current_password: str = BodyField(min_length=1, max_length=200)
    new_password: str = BodyField(min_length=1, max_length=200)


class TokenCreate(RequestBody):
    name: str = BodyField(min_length=1, max_length=60, examples=["对账脚本"])
    expires_at: AwareDatetime | None = BodyField(
        None, description="When the token stops working, with its offset (+08:00); never when omitted."
    )


class TokenPublic(SQLModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = BodyField(description="Shown once; only its hash is stored.")


class SessionPublic(SQLModel):
    """Who is signed in, and the token every state-changing request of the session carries."""

    login: str
    name: str
    role: str
    org_code: str
    csrf_token: str | None = BodyField(None, description="Send it as X-CSRF-Token (or a csrf_token form field).")
