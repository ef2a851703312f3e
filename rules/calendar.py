"""Days and instants of the programme: a window ``start``-``end`` opens at 00:00 of ``start`` and
closes at 24:00 of ``end`` in the programme's time zone (Asia/Shanghai by default); a deadline day
ends at 24:00; every date printed or used for a window is the day in that time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.programme import DateWindow


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
