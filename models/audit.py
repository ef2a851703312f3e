"""Audit log: one appended row per action; summaries never hold raw personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, text
from sqlmodel import Field, SQLModel

from models.base import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_entity", "entity_type", "entity_id"),
        # A workflow's n-th transition is written once, however often its projection runs again.
        Index(
            "ux_audit_step", "entity_type", "entity_id", "step_no", unique=True,
            postgresql_where=text("step_no IS NOT NULL"),
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor_name: str = Field(max_length=100)
    org_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    action: str = Field(max_length=60)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=60)
    from_state: str | None = Field(default=None, max_length=40)
    to_state: str | None = Field(default=None, max_length=40)
    summary: str = Field(max_length=500)
    step_no: int | None = Field(default=None, description="The workflow's transition number (projections)")


class AuditPublic(SQLModel):
    at: datetime
    actor: str
    org_code: str | None
    action: str
    entity_type: str
    entity_id: str
    from_state: str | None
    to_state: str | None
    summary: str
    label: str = Field(default="", description="What happened, as a person reads it: 提交（草稿 → 已提交）")
