"""An extension (延期) of a programme year's date: what, the new last day, for whom, who and why.

A district reviewer extends the payment deadline of its district's unions; the Mutual Aid Center
or an admin extends a district's (or every district's) submission window, or the year's windows
and deadline. The running workflows take it at once; the record is kept for the audit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import enum_type, utcnow
from models.inputs import MULTILINE, RequestBody
from models.programme import ProgrammeDate
from models.states import ExtensionKind


class ExtensionCreate(RequestBody):
    kind: ExtensionKind = Field(description="The date extended.")
    new_date: ProgrammeDate = Field(description="The new last day (inclusive); later than the current one.")
    district_code: str | None = Field(
        None, pattern=r"^\d{3}$", min_length=3, max_length=3,
        description="Only this district's unions (payment deadline) or filing (district window); none: everyone.",
    )  # fmt: skip
    reason: Annotated[str, MULTILINE] = Field(
        min_length=2, max_length=300, description="Why (a district asked for more days ...)."
    )


class ExtensionPublic(BaseModel):
    id: int
    year: int
    kind: ExtensionKind
    district_code: str | None
    old_date: date
    new_date: date
    reason: str
    created_by: int
    created_by_name: str
    created_at: datetime
    reached: int = Field(0, description="Running workflows told of it when it was made.")


class Extension(SQLModel, table=True):
    __tablename__ = "extensions"
    __table_args__ = (Index("ix_extensions_year", "year", "kind"),)

    id: int | None = SQLField(default=None, primary_key=True)
    year: int
    kind: ExtensionKind = SQLField(sa_type=enum_type(ExtensionKind))
    district_code: str | None = SQLField(default=None, max_length=3)
    old_date: date
    new_date: date
    reason: str = SQLField(max_length=300)
    created_by: int = SQLField(foreign_key="users.id")
    created_by_name: str = SQLField(max_length=60)
    reached: int = 0
    created_at: datetime = SQLField(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
