"""The member registry (会员): fields of the collection form and import template."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, String
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.inputs import RequestBody
from models.states import Affiliation, CardStatus, CardType, EmploymentStatus, Gender, IdType


class MemberFields(SQLModel):
    """What a clerk provides for a member (one import row)."""

    name: str = Field(max_length=60)
    id_type: IdType = Field(sa_type=enum_type(IdType))
    id_number: str = Field(max_length=32)
    id_expiry: date | None = Field(default=None, description="ID expiry date; null when long-term (长期).")
    id_long_term: bool = False
    gender: Gender = Field(sa_type=enum_type(Gender))
    birth_date: date | None = None
    ethnicity: str | None = Field(default=None, max_length=20)
    nationality: str | None = Field(default=None, max_length=40)
    political_status: str | None = Field(default=None, max_length=20)
    education: str | None = Field(default=None, max_length=20)
    title_level: str | None = Field(default=None, max_length=20)
    phone: str = Field(max_length=11)
    household_registration: str | None = Field(default=None, max_length=100)
    contact_address: str | None = Field(default=None, max_length=200)
    work_address: str = Field(max_length=200)
    work_start_month: str | None = Field(default=None, max_length=7)
    union_join_month: str | None = Field(default=None, max_length=7)
    social_insurance_start: str | None = Field(
        default=None, max_length=7, description="YYYY-MM; null with social_insured false."
    )
    social_insured: bool = True
    rural_household: bool | None = None
    dispatched_worker: bool | None = None
    labour_contract: bool | None = None
    occupation: str | None = Field(default=None, max_length=20)
    card_type: CardType = Field(default=CardType.DEBIT, sa_type=enum_type(CardType))
    employment_status: EmploymentStatus = Field(
        default=EmploymentStatus.IN_SERVICE, sa_type=enum_type(EmploymentStatus)
    )
    retirement_date: date | None = None
    deceased_date: date | None = None
    affiliation: Affiliation = Field(default=Affiliation.ENTERPRISE, sa_type=enum_type(Affiliation))
    special_channel: bool = Field(
        default=False, description="Needs the special card channel (rare characters, non-mainland ID)."
    )
    special_reasons: str | None = Field(default=None, max_length=100)


def _code(length: int) -> String:
    return String(length, collation="C")


class Member(MemberFields, table=True):
    __tablename__ = "members"
    __table_args__ = (Index("ix_members_org_member_no", "org_id", "member_no"),)

    # Codes, compared byte by byte (collation "C"): their indexes are what an import's COPY maintains.
    member_no: str = Field(
        primary_key=True, max_length=10, sa_type=_code(10), description="District code + 7 digits; never reused."
    )
    org_id: int = Field(foreign_key="organisations.id")
    district_code: str = Field(max_length=3)
    id_number: str = Field(max_length=32, unique=True, sa_type=_code(32))
    phone: str = Field(max_length=11, unique=True, sa_type=_code(11))
    card_status: CardStatus = Field(default=CardStatus.NONE, sa_type=enum_type(CardStatus))
    card_no: str | None = Field(default=None, max_length=19, description="The member's current card.")
    source_import_id: int | None = Field(default=None, description="The import that added the member.")
    source_row: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class MemberNumberCounter(SQLModel, table=True):
    """Next member-number sequence per district: only ever grows, so numbers are never reused."""

    __tablename__ = "member_number_counters"

    district_code: str = Field(primary_key=True, max_length=3)
    next_value: int = 1


class MemberPublic(MemberFields):
    """A member as the API shows it; ID and phone masked unless revealed."""

    member_no: str
    org_code: str
    district_code: str
    card_status: CardStatus
    created_at: datetime
    updated_at: datetime


class MemberUpdate(SQLModel, RequestBody):
    """Corrections a clerk may make (PATCH); the same rules as the import apply."""

    id_type: IdType | None = Field(
        default=None, description="证件类型: a new type re-checks the number (id_number, or the member's)."
    )
    id_number: str | None = Field(default=None, max_length=32, description="证件号码, by its type's rules.")
    id_expiry: str | None = Field(
        default=None, max_length=20, description="A date (2030-01-31, 2030/1/31, 2030年1月31日) or 长期."
    )
    phone: str | None = Field(default=None, max_length=11)
    contact_address: str | None = Field(default=None, max_length=200)
    work_address: str | None = Field(default=None, max_length=200)
    nationality: str | None = Field(default=None, max_length=40, description="国籍, which the special channel needs.")
    employment_status: EmploymentStatus | None = None
    retirement_date: str | None = Field(default=None, max_length=20)
    deceased_date: str | None = Field(default=None, max_length=20)


class MemberPage(SQLModel):
    total: int
    page: int
    size: int
    items: list[MemberPublic]
