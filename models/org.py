"""Organisation tree: city -> district -> (secondary) -> grassroots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.inputs import RequestBody
from models.states import GrassrootsType, OrgLevel


class OrgBase(SQLModel):
    code: str = Field(max_length=32, description="Unique code; a district's is its 3-digit district code.")
    name: str = Field(max_length=100)
    level: OrgLevel = Field(sa_type=enum_type(OrgLevel))
    grassroots_type: GrassrootsType | None = Field(default=None, sa_type=enum_type(GrassrootsType))


class OrgCreate(OrgBase, RequestBody):
    parent_code: str | None = Field(
        default=None, max_length=32, description="Code of the parent organisation (none only for the city)."
    )


class Organisation(OrgBase, table=True):
    __tablename__ = "organisations"
    __table_args__ = (Index("ix_organisations_path", "path", postgresql_ops={"path": "text_pattern_ops"}),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    parent_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    district_code: str | None = Field(default=None, max_length=3, index=True)
    path: str = Field(max_length=400, description="Materialised path of ids, '/1/4/9/', for subtree queries.")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class OrgPublic(OrgBase):
    parent_code: str | None
    district_code: str | None
    card_work_supported: bool
    created_at: datetime
