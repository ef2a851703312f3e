"""Reading a programme year's configuration from the database: the year's rules, a district's
split, the registration windows (the rules themselves are in ``rules/``)."""

from __future__ import annotations

from datetime import date

import psycopg
from sqlmodel import Session

from core.errors import NotFound
from models.programme import DateWindow, FeeSplit, ProgrammeYear, ProgrammeYearConfig


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
