"""A card's life after issue: yearly registration (or lapse), loss and replacement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.states import CardLossStatus, RegistrationStatus


class Registration(SQLModel, table=True):
    """The projection of one union's registration workflow for a year."""

    __tablename__ = "registrations"
    __table_args__ = (Index("ux_registrations_org_year", "org_id", "year", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id")
    year: int
    status: RegistrationStatus = Field(default=RegistrationStatus.SCHEDULED, sa_type=enum_type(RegistrationStatus))
    registered: int = 0
    lapsed: int = 0
    opens_on: str = Field(max_length=10)
    closes_on: str = Field(max_length=10)
    workflow_id: str = Field(max_length=80)
    last_step: int = Field(default=0, description="The workflow step last projected onto this row.")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class CardRegistration(SQLModel, table=True):
    """A card registered for a year; a replacement card inherits its predecessor's rows."""

    __tablename__ = "card_registrations"
    __table_args__ = (Index("ix_card_registrations_member_year", "member_no", "year"),)

    card_no: str = Field(foreign_key="cards.card_no", primary_key=True, max_length=19)
    year: int = Field(primary_key=True)
    member_no: str = Field(foreign_key="members.member_no", max_length=10)
    registered_by: int | None = Field(default=None, foreign_key="users.id")
    registered_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class CardLoss(SQLModel, table=True):
    """A loss report and its replacement: the projection of the card's loss workflow."""

    __tablename__ = "card_losses"

    card_no: str = Field(foreign_key="cards.card_no", primary_key=True, max_length=19)
    member_no: str = Field(foreign_key="members.member_no", max_length=10)
    org_id: int = Field(foreign_key="organisations.id")
    status: CardLossStatus = Field(default=CardLossStatus.LOST, sa_type=enum_type(CardLossStatus))
    new_card_no: str | None = Field(default=None, max_length=19)
    workflow_id: str = Field(max_length=80)
    last_step: int = Field(default=0, description="The workflow step last projected onto this row.")
    reported_by: int = Field(foreign_key="users.id")
    reported_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
