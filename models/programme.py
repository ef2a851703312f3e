"""Programme-year configuration: prices, fee split, windows, deadlines, coverage, claim amounts.

Every date of the yearly cycle is data (the 2024 round of seed 002 and the half-year rules of
seed 004 are two configurations), never a constant in code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import JSON, Column, DateTime, Numeric
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from models.base import utcnow
from models.inputs import YEAR_MAX, YEAR_MIN, Money, RequestBody
from models.states import ClaimKind

# A date of a programme year's cycle: the windows of a year's round may lie in the year before.
ProgrammeDate = Annotated[date, Field(ge=date(YEAR_MIN - 1, 1, 1), le=date(YEAR_MAX + 1, 12, 31))]


class DateWindow(RequestBody):
    start: ProgrammeDate
    end: ProgrammeDate = Field(description="Inclusive: the window closes at the end of this day.")

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError(f"窗口结束日 {self.end} 早于开始日 {self.start}")
        return self

    def label(self) -> str:
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"


class ProtectionType(RequestBody):
    code: str = Field(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9+_-]+$", examples=["A", "B+"])
    name: str = Field(min_length=1, max_length=60, examples=["A类会员专享基本保障"])
    price: Money = Field(description="CNY per person for the period (up to 1,000,000.00).")
    coverage: DateWindow | None = Field(None, description="Overrides the year's coverage (e.g. a half year).")


class CardPeriod(RequestBody):
    """The protection type a member takes by their card's day: the later of its issue and its
    registration for the year (seed 004: issued and registered in the first half, a year's
    cover at 24 CNY; issued in the second half, half a year at 12 CNY)."""

    protection_type: str = Field(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9+_-]+$", examples=["H1"])
    cards_until: ProgrammeDate | None = Field(
        None, description="The last card day of this period; the last period has none (every later day)."
    )


class FeeSplit(RequestBody):
    """Percentages of the fee borne by the city federation, the district and the grassroots union."""

    city: Decimal = Field(ge=0, le=100, decimal_places=2)
    district: Decimal = Field(ge=0, le=100, decimal_places=2)
    grassroots: Decimal = Field(ge=0, le=100, decimal_places=2)

    @model_validator(mode="after")
    def _sums_to_100(self) -> FeeSplit:
        if self.city + self.district + self.grassroots != 100:
            raise ValueError("市总、区局、基层三方比例之和须为100")
        return self


def _default_claim_amounts() -> dict[ClaimKind, Decimal]:
    return {
        ClaimKind.CRITICAL_ILLNESS: Decimal(10000),
        ClaimKind.ACCIDENTAL_DISABILITY: Decimal(30000),
        ClaimKind.ACCIDENTAL_DEATH: Decimal(30000),
    }


class ProgrammeYearConfig(RequestBody):
    """One coverage year's rules. The windows of the 2024 round lie in late 2023."""

    plan_name: str = Field(min_length=2, max_length=100, examples=["2024年度上海工会会员专享基本保障计划"])
    protection_types: list[ProtectionType] = Field(min_length=1, max_length=20)
    default_split: FeeSplit
    split_window: DateWindow = Field(description="When districts may set their own split (25-31 Oct in 2024).")
    submission_window: DateWindow = Field(description="When grassroots unions submit their enrollment.")
    payment_deadline: ProgrammeDate = Field(description="The grassroots share is paid by the end of this day.")
    district_window: DateWindow = Field(description="When districts submit to the Mutual Aid Center.")
    coverage: DateWindow
    registration_window: DateWindow | None = Field(None, description="Card registration; default 1 May - 30 June.")
    claim_amounts: dict[ClaimKind, Money] = Field(
        default_factory=_default_claim_amounts, description="CNY per kind of claim (up to 1,000,000.00)."
    )
    types_by_card: list[CardPeriod] | None = Field(
        None,
        max_length=20,
        description="When set, each member's protection type (and so coverage and fee) follows their card's"
        " day, and the clerk chooses none (the 2014 rules); in order of cards_until.",
    )
    claim_time_limit_days: int = Field(365, ge=1, le=3650, description="A claim is filed within this after the event.")
    return_timeout_days: int = Field(30, ge=1, le=365, description="A returned claim left unanswered closes.")

    @model_validator(mode="after")
    def _consistent(self) -> ProgrammeYearConfig:
        codes = [t.code for t in self.protection_types]
        if len(set(codes)) != len(codes):
            raise ValueError("保障类型代码重复")
        if any(amount < 0 for amount in self.claim_amounts.values()):
            raise ValueError("给付金额不能为负数")
        if self.payment_deadline < self.submission_window.start:
            raise ValueError("缴费截止日早于基层提交窗口的开始日")
        if self.district_window.end < self.payment_deadline:
            raise ValueError("区局提交窗口在缴费截止日之前就已结束")
        if self.coverage.end < self.district_window.start:
            raise ValueError("保障期在区局提交窗口开始前就已结束")
        if self.split_window.start > self.submission_window.end:
            raise ValueError("比例设置窗口晚于基层提交窗口")
        if self.types_by_card is not None:
            self._check_card_periods(self.types_by_card, set(codes))
        return self

    @staticmethod
    def _check_card_periods(periods: list[CardPeriod], codes: set[str]) -> None:
        if not periods:
            raise ValueError("按办卡时间确定保障类型时至少需要一个时段")
        unknown = [p.protection_type for p in periods if p.protection_type not in codes]
        if unknown:
            raise ValueError(f"按办卡时间确定的保障类型 {'、'.join(unknown)} 不在本年度保障类型中")
        if len({p.protection_type for p in periods}) != len(periods):
            raise ValueError("按办卡时间确定保障类型时，每个保障类型只能对应一个时段")
        untils = [p.cards_until for p in periods[:-1]]
        if any(u is None for u in untils) or periods[-1].cards_until is not None:
            raise ValueError("按办卡时间确定保障类型时，只有最后一个时段不设截止日")
        days = [u for u in untils if u is not None]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("按办卡时间确定保障类型的各时段截止日须依次递增")

    @property
    def by_card(self) -> bool:
        """Each member's protection type follows their card (the clerk chooses none)."""
        return self.types_by_card is not None

    def registration(self, year: int) -> DateWindow:
        return self.registration_window or DateWindow(start=date(year, 5, 1), end=date(year, 6, 30))

    def protection(self, code: str) -> ProtectionType | None:
        return next((t for t in self.protection_types if t.code == code), None)

    def coverage_of(self, code: str) -> DateWindow:
        found = self.protection(code)
        return found.coverage if found and found.coverage else self.coverage


class ProgrammeYearPublic(BaseModel):
    year: int
    config: ProgrammeYearConfig
    updated_at: datetime


class ProgrammeYear(SQLModel, table=True):
    __tablename__ = "programme_years"

    year: int = SQLField(primary_key=True)
    config: dict[str, Any] = SQLField(sa_column=Column(JSON, nullable=False))
    updated_by: int | None = SQLField(default=None, foreign_key="users.id")
    updated_at: datetime = SQLField(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class DistrictFeeSplit(SQLModel, table=True):
    """A district's own split for a year, set inside the year's split window."""

    __tablename__ = "district_fee_splits"

    district_code: str = SQLField(primary_key=True, max_length=3)
    year: int = SQLField(primary_key=True)
    city: Decimal = SQLField(sa_column=Column(Numeric(5, 2), nullable=False))
    district: Decimal = SQLField(sa_column=Column(Numeric(5, 2), nullable=False))
    grassroots: Decimal = SQLField(sa_column=Column(Numeric(5, 2), nullable=False))
    updated_by: int | None = SQLField(default=None, foreign_key="users.id")
    updated_at: datetime = SQLField(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
