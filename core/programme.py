"""Reading a programme year's configuration and turning its dates into instants.

A window ``start``-``end`` opens at 00:00 of ``start`` and closes at 24:00 of ``end`` in the
programme's time zone (Asia/Shanghai by default); a deadline day ends at 24:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import psycopg
from sqlmodel import Session

from core.card_validity import ValidityTerms
from core.errors import NotFound
from models.programme import DateWindow, FeeSplit, ProgrammeYear, ProgrammeYearConfig


def start_of(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def end_of(day: date, tz: str) -> datetime:
    return start_of(day + timedelta(days=1), tz)


def bounds(window: DateWindow, tz: str) -> tuple[datetime, datetime]:
    return start_of(window.start, tz), end_of(window.end, tz)


def today(tz: str, now: datetime | None = None) -> date:
    """The programme's day (``UNIONCARD_TIMEZONE``) now, or at ``now``: what windows, batch
    numbers and printed dates use; 00:30 in Shanghai is 16:30 UTC of the day before."""
    return local_date(now or datetime.now(UTC), tz)


def local_date(moment: datetime, tz: str) -> date:
    """The day a moment falls on in the programme's time zone: what documents and pages print."""
    return moment.astimezone(ZoneInfo(tz)).date()


def inside(window: DateWindow, tz: str, now: datetime | None = None) -> bool:
    opens, closes = bounds(window, tz)
    moment = now or datetime.now(UTC)
    return opens <= moment < closes


def get_config(session: Session, year: int) -> ProgrammeYearConfig:
    row = session.get(ProgrammeYear, year)
    if row is None:
        raise NotFound("programme_year_not_found", f"{year}年度的参保计划尚未配置", details={"year": year})
    return ProgrammeYearConfig.model_validate(row.config)


def read_config(conn: psycopg.Connection, year: int) -> ProgrammeYearConfig | None:
    row = conn.execute("SELECT config FROM programme_years WHERE year = %s", (year,)).fetchone()
    return ProgrammeYearConfig.model_validate(row[0]) if row else None


def district_split(conn: psycopg.Connection, config: ProgrammeYearConfig, district_code: str, year: int) -> FeeSplit:
    row = conn.execute(
        "SELECT city, district, grassroots FROM district_fee_splits WHERE district_code = %s AND year = %s",
        (district_code, year),
    ).fetchone()
    return FeeSplit(city=row[0], district=row[1], grassroots=row[2]) if row else config.default_split


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split_fee(total_fen: int, split: FeeSplit) -> tuple[int, int, int]:
    """City, district and grassroots shares in fen; rounding goes to the grassroots share."""
    city = int((Decimal(total_fen) * split.city / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    district = int((Decimal(total_fen) * split.district / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if split.grassroots == 0:  # nothing for the grassroots union: rounding goes to the district
        return city, total_fen - city, 0
    return city, district, total_fen - city - district


def registration_windows(conn: psycopg.Connection, org_id: int | None = None) -> dict[int, DateWindow]:
    """The registration window of every year that sets one: the programme years' configuration,
    then the union's own registration (its window, extensions included), which wins."""
    windows: dict[int, DateWindow] = {}
    for year, window in conn.execute(
        "SELECT year, config->'registration_window' FROM programme_years"
    ).fetchall():
        if window is not None:
            windows[int(year)] = DateWindow.model_validate(window)
    if org_id is not None:
        for year, opens_on, closes_on in conn.execute(
            "SELECT year, opens_on, closes_on FROM registrations WHERE org_id = %s", (org_id,)
        ).fetchall():
            windows[int(year)] = DateWindow(start=date.fromisoformat(opens_on), end=date.fromisoformat(closes_on))
    return windows


# A card valid on a day (core.card_validity.validity_terms as parameters): %(day)s, %(years)s,
# %(issued_after)s and %(tz)s; the card is ``{card}`` of the member ``{member}``.
VALID_CARD_SQL = """(
    (SELECT (min(x.issued_at) AT TIME ZONE %(tz)s)::date FROM cards x WHERE x.member_no = {member}) <= %(day)s
    AND ((SELECT (min(x.issued_at) AT TIME ZONE %(tz)s)::date FROM cards x WHERE x.member_no = {member})
             > %(issued_after)s
         OR EXISTS (SELECT 1 FROM card_registrations r WHERE r.card_no = {card} AND r.year = ANY(%(years)s))))"""


def validity_params(terms: ValidityTerms, tz: str) -> dict[str, object]:
    return {"day": terms.day, "years": list(terms.registration_years), "issued_after": terms.issued_after, "tz": tz}
