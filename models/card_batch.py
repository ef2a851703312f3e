"""Card batches, their members' check results and bank outcomes, cards, and bank callbacks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.states import CardBatchStatus, CardChannel, CardOutcome, CardStatus, MemberCheck


class CardBatch(SQLModel, table=True):
    """The projection of one card batch workflow (the workflow owns the process state)."""

    __tablename__ = "card_batches"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    district_code: str = Field(max_length=3)
    channel: CardChannel = Field(sa_type=enum_type(CardChannel))
    bank_branch: str = Field(max_length=100)
    status: CardBatchStatus = Field(default=CardBatchStatus.PENDING, sa_type=enum_type(CardBatchStatus))
    batch_no: str | None = Field(default=None, max_length=20, unique=True)
    workflow_id: str = Field(max_length=60)
    created_by: int = Field(foreign_key="users.id")
    members: int = 0
    passed: int = 0
    failed: int = 0
    issued: int = 0
    rejected: int = 0
    overdue: bool = False
    revocation_applicant: str | None = Field(default=None, max_length=60)
    revocation_phone: str | None = Field(default=None, max_length=11)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class CardBatchMember(SQLModel, table=True):
    __tablename__ = "card_batch_members"

    batch_id: int = Field(foreign_key="card_batches.id", primary_key=True)
    member_no: str = Field(foreign_key="members.member_no", primary_key=True, max_length=10)
    check: MemberCheck = Field(default=MemberCheck.UNCHECKED, sa_type=enum_type(MemberCheck))
    check_reasons: str | None = Field(default=None, max_length=300)
    outcome: CardOutcome | None = Field(default=None, sa_type=enum_type(CardOutcome))
    card_no: str | None = Field(default=None, max_length=19)
    reject_reason: str | None = Field(default=None, max_length=200)
    feedback_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Card(SQLModel, table=True):
    """A union card the bank issued; a member's current card is the one not replaced."""

    __tablename__ = "cards"
    __table_args__ = (Index("ix_cards_member", "member_no"),)

    card_no: str = Field(primary_key=True, max_length=19)
    member_no: str = Field(foreign_key="members.member_no", max_length=10)
    batch_id: int | None = Field(default=None, foreign_key="card_batches.id")
    status: CardStatus = Field(default=CardStatus.ISSUED, sa_type=enum_type(CardStatus))
    issued_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    activated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    replaced_by: str | None = Field(default=None, max_length=19, description="The card that replaced this one.")


class BankCallback(SQLModel, table=True):
    """Every verified callback from the bank, stored once by its event id before it is acted on."""

    __tablename__ = "bank_callbacks"

    event_id: str = Field(primary_key=True, max_length=80)
    kind: str = Field(max_length=40)
    batch_no: str | None = Field(default=None, max_length=20, index=True)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    applied_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class BatchNumberCounter(SQLModel, table=True):
    """Batch numbers: district code, date, and a sequence per district and day."""

    __tablename__ = "batch_number_counters"

    district_code: str = Field(primary_key=True, max_length=3)
    day: str = Field(primary_key=True, max_length=8)
    next_value: int = 1


class CardBatchRequest(SQLModel, table=True):
    """A clerk's list of members to add to or remove from a batch, staged here so that the
    workflow's history carries only this request's id, never the list."""

    __tablename__ = "card_batch_requests"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="card_batches.id", index=True)
    kind: str = Field(max_length=20)  # add, add_all, remove, remove_failed
    member_nos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
