"""Benefit claims (保障给付) and their evidence files."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.states import ClaimKind, ClaimStatus, Illness


class Claim(SQLModel, table=True):
    """The projection of one claim workflow (the workflow owns the process state)."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_member_kind", "member_no", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    member_no: str = Field(foreign_key="members.member_no", max_length=10)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    district_code: str = Field(max_length=3)
    kind: ClaimKind = Field(sa_type=enum_type(ClaimKind))
    illness: Illness | None = Field(default=None, sa_type=enum_type(Illness))
    hospitalised: bool = False
    event_date: date
    description: str = Field(max_length=1000)
    beneficiary_name: str | None = Field(default=None, max_length=60)
    beneficiary_relation: str | None = Field(default=None, max_length=20)
    status: ClaimStatus = Field(default=ClaimStatus.APPLIED, sa_type=enum_type(ClaimStatus))
    awaiting: str | None = Field(default=None, max_length=40, description="Who the claim waits for.")
    awaiting_org_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    amount_fen: int = 0
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    return_reason: str | None = Field(default=None, max_length=300)
    payout_card_no: str | None = Field(default=None, max_length=19)
    payout_attempt: int = 0
    last_step: int = Field(default=0, description="The workflow step last projected onto this row.")
    paid_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    workflow_id: str = Field(max_length=60)
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ClaimEvidence(SQLModel, table=True):
    """A file the clerk uploaded for a claim (diagnosis, hospital records, death certificate …)."""

    __tablename__ = "claim_evidence"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claims.id", index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: int = Field(foreign_key="users.id")
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
