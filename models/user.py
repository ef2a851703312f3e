"""Users: one organisation, one role, a bearer token stored only as its hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.inputs import RequestBody
from models.states import Role


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    role: Role = Field(sa_type=enum_type(Role))
    token_hash: str = Field(max_length=64, unique=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class UserCreate(SQLModel, RequestBody):
    name: str = Field(min_length=1, max_length=100)
    org_code: str = Field(max_length=32)
    role: Role


class UserPublic(SQLModel):
    id: int
    name: str
    org_code: str
    role: Role


class UserCreated(UserPublic):
    token: str = Field(description="Shown once; only its hash is stored.")


class AuthFailure(SQLModel, table=True):
    """Refused tokens per client address and minute: what every API replica counts against the limit."""

    __tablename__ = "auth_failures"

    client: str = Field(primary_key=True, max_length=64, description="The client's IP address.")
    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    failures: int = 0
