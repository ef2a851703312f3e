"""Users: one organisation, one role, a login name with a password (argon2id) for the workbench,
and API tokens (stored only as their hashes, models.account) for scripts and the bank."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field as BodyField
from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.inputs import RequestBody
from models.states import Role


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=40, unique=True, description="The sign-in name (lower case).")
    name: str = Field(max_length=100)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    role: Role = Field(sa_type=enum_type(Role))
    password_hash: str | None = Field(default=None, max_length=200, description="argon2id; none before setup.")
    password_changed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    active: bool = True
    deactivated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


LOGIN_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,39}$"


class UserCreate(SQLModel, RequestBody):
    name: str = Field(min_length=1, max_length=100)
    org_code: str = Field(max_length=32)
    role: Role
    login: str | None = BodyField(
        None, min_length=3, max_length=40, pattern=LOGIN_PATTERN,
        description="Lower-case letters, digits, '.', '_' or '-'; made from the organisation when omitted.",
    )  # fmt: skip


class UserPublic(SQLModel):
    id: int
    login: str
    name: str
    org_code: str
    role: Role


class AccountPublic(UserPublic):
    """An account as the people who manage it see it."""

    active: bool
    password_set: bool = Field(description="The user has set a password (with a setup code).")
    created_at: datetime
    deactivated_at: datetime | None


class SetupCodeIssued(SQLModel):
    login: str
    setup_code: str = Field(description="Shown once: the user sets a password with it (POST /accounts/setup).")
    setup_expires_at: datetime


class UserCreated(UserPublic):
    token: str = Field(description="An API token, shown once; only its hash is stored.")
    setup_code: str = Field(description="Shown once: the user sets a password with it (POST /accounts/setup).")
    setup_expires_at: datetime


class AuthFailure(SQLModel, table=True):
    """Refused tokens per client address and minute: what every API replica counts against the limit."""

    __tablename__ = "auth_failures"

    client: str = Field(primary_key=True, max_length=64, description="The client's IP address.")
    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    failures: int = 0
