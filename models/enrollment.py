"""Group insurance enrollment (集中参保): per union and year, its roster, the district's filing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from models.base import enum_type, utcnow
from models.states import DistrictFilingStatus, EnrollmentKind, EnrollmentStatus, RosterCategory


class Enrollment(SQLModel, table=True):
    """The projection of one enrollment workflow (the workflow owns the process state)."""

    __tablename__ = "enrollments"
    __table_args__ = (
        Index("ux_enrollments_regular", "org_id", "year", unique=True, postgresql_where=text("kind = 'regular'")),
        Index("ix_enrollments_district_year", "district_code", "year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    year: int
    kind: EnrollmentKind = Field(default=EnrollmentKind.REGULAR, sa_type=enum_type(EnrollmentKind))
    status: EnrollmentStatus = Field(default=EnrollmentStatus.DRAFT, sa_type=enum_type(EnrollmentStatus))
    district_code: str = Field(max_length=3)
    secondary_org_id: int | None = Field(default=None, foreign_key="organisations.id")
    awaiting_org_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    awaiting: str | None = Field(default=None, max_length=40, description="What the enrollment waits for.")
    protection_type: str | None = Field(default=None, max_length=8, description="The clerk's choice; none by card.")
    # The fee per protection type (FeeLine as JSON): one line for a clerk's choice, one per type
    # of the roster when the year's types follow each member's card (the 2014 rules).
    fee_lines: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    members_total: int = 0
    enrolled: int = 0
    awaiting_confirmation: int = 0
    no_card: int = 0
    retired: int = 0
    deceased: int = 0
    removed: int = 0
    # Money in fen: a roster's total at the highest price exceeds a PostgreSQL integer.
    total_fen: int = Field(default=0, sa_type=BigInteger)
    city_fen: int = Field(default=0, sa_type=BigInteger)
    district_fen: int = Field(default=0, sa_type=BigInteger)
    grassroots_fen: int = Field(default=0, sa_type=BigInteger)
    paid_fen: int | None = Field(default=None, sa_type=BigInteger)
    payment_ref: str | None = Field(default=None, max_length=80)
    paid_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    return_reason: str | None = Field(default=None, max_length=300)
    coverage_start: date | None = None
    coverage_end: date | None = None
    filing_id: int | None = Field(default=None, foreign_key="district_filings.id")
    workflow_id: str = Field(max_length=80)
    created_by: int = Field(foreign_key="users.id")
    last_step: int = Field(default=0, description="The workflow step last projected onto this row.")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


@dataclass(frozen=True)
class FeeLine:
    """One protection type of an enrollment: its members, their fee, their coverage once set."""

    code: str
    members: int
    total_fen: int
    coverage_start: date | None = None
    coverage_end: date | None = None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["coverage_start"] = self.coverage_start.isoformat() if self.coverage_start else None
        out["coverage_end"] = self.coverage_end.isoformat() if self.coverage_end else None
        return out

    @staticmethod
    def from_json(d: dict[str, Any]) -> FeeLine:
        start, end = d.get("coverage_start"), d.get("coverage_end")
        return FeeLine(
            code=str(d["code"]),
            members=int(d["members"]),
            total_fen=int(d["total_fen"]),
            coverage_start=date.fromisoformat(start) if start else None,
            coverage_end=date.fromisoformat(end) if end else None,
        )


def fee_lines(e: Enrollment) -> list[FeeLine]:
    """The enrollment's fee per protection type; before the per-type record (an enrollment priced
    earlier), its one chosen type; none before it is priced."""
    if e.fee_lines is not None:
        return [FeeLine.from_json(d) for d in e.fee_lines]
    if not e.protection_type:
        return []
    return [FeeLine(e.protection_type, e.enrolled, e.total_fen, e.coverage_start, e.coverage_end)]


class EnrollmentMember(SQLModel, table=True):
    """Every member of the union with the roster's verdict on them."""

    __tablename__ = "enrollment_members"
    __table_args__ = (Index("ix_enrollment_members_member", "member_no"),)

    enrollment_id: int = Field(foreign_key="enrollments.id", primary_key=True)
    member_no: str = Field(foreign_key="members.member_no", primary_key=True, max_length=10)
    category: RosterCategory = Field(sa_type=enum_type(RosterCategory))
    confirmed: bool = False  # confirmed by the clerk: cannot be removed
    # When the year's types follow each member's card: the member's type and coverage.
    protection_type: str | None = Field(default=None, max_length=8)
    coverage_start: date | None = None
    coverage_end: date | None = None


class DistrictFiling(SQLModel, table=True):
    """A district's yearly submission to the Mutual Aid Center, with its payment voucher."""

    __tablename__ = "district_filings"
    __table_args__ = (Index("ux_district_filings", "district_code", "year", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    district_code: str = Field(max_length=3)
    org_id: int = Field(foreign_key="organisations.id")
    year: int
    status: DistrictFilingStatus = Field(default=DistrictFilingStatus.OPEN, sa_type=enum_type(DistrictFilingStatus))
    enrollments: int = 0
    members: int = 0
    total_fen: int = Field(default=0, sa_type=BigInteger)
    submitted_by_name: str | None = Field(default=None, max_length=60)
    voucher_name: str | None = Field(default=None, max_length=200)
    voucher_type: str | None = Field(default=None, max_length=100)
    voucher: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    reject_reason: str | None = Field(default=None, max_length=300)
    workflow_id: str = Field(max_length=80)
    last_step: int = Field(default=0, description="The workflow step last projected onto this row.")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class MemberSelection(SQLModel, table=True):
    """A clerk's chosen members or cards, staged so that a workflow's history carries only this id."""

    __tablename__ = "member_selections"

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=30)  # confirm, remove, register
    items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    everything: bool = False
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
