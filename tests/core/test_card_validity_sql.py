"""The card rule's SQL form (VALID_CARD_SQL with validity_params) agrees with its Python form
(card_valid_on) on generated cards, windows and days, in the real PostgreSQL.

The SQL runs on one connection of its own whose TEMP tables ``cards`` and ``card_registrations``
(pg_temp comes first in the search path) stand for the real ones: the shared database's tables are
never read or written, and the temp tables go with the connection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import Database
from models.programme import DateWindow
from rules.card_validity import VALID_CARD_SQL, card_valid_on, validity_params, validity_terms, window_of

TZ = "Asia/Shanghai"
LOCAL = ZoneInfo(TZ)
WINDOW_YEARS = range(2090, 2095)  # the years that may configure a window; the others have the default
YEARS = range(2088, 2097)  # issues, registrations and days

# As activities/registration.py's lapse formats it: every card ``c``, of its member.
_VALID = VALID_CARD_SQL.format(card="c.card_no", member="c.member_no")
_VALID_SQL = f"SELECT c.card_no, {_VALID} FROM cards c ORDER BY c.card_no"


@dataclass(frozen=True)
class Card:
    card_no: str
    member_no: str
    issued_at: datetime  # UTC
    years: frozenset[int]  # its registrations (a replacement inherits its predecessors')


@dataclass(frozen=True)
class Case:
    windows: dict[int, DateWindow]
    cards: list[Card]
    days: list[date]


@st.composite
def windows(draw: st.DrawFn) -> dict[int, DateWindow]:
    configured = {}
    for year in draw(st.sets(st.sampled_from(WINDOW_YEARS))):
        start = date(year, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
        end = min(start + timedelta(days=draw(st.integers(0, 90))), date(year, 12, 31))
        configured[year] = DateWindow(start=start, end=end)
    return configured


def local_days(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.dates(min_value=lo, max_value=hi)


@st.composite
def issued(draw: st.DrawFn, edges: list[date]) -> datetime:
    """An issue instant, often on a window's edge, often just either side of midnight in the
    programme's zone."""
    day = draw(local_days(date(YEARS[0], 1, 1), date(YEARS[-1], 12, 31)) | st.sampled_from(edges))
    at = draw(st.sampled_from([time(0, 0), time(0, 1), time(7, 59), time(8, 0), time(23, 59)]) | st.times())
    return datetime.combine(day, at, LOCAL).astimezone(ZoneInfo("UTC"))


@st.composite
def members(draw: st.DrawFn, member_no: str, edges: list[date]) -> list[Card]:
    """A member's chain of replacement cards, first issued first; each year registered on one card
    of the chain (or on none) and, as activities/card_loss.py copies them, on every later card."""
    chain = sorted(draw(st.lists(issued(edges), min_size=1, max_size=3)))
    on_card = {y: draw(st.integers(0, len(chain) - 1)) for y in draw(st.sets(st.sampled_from(YEARS), max_size=5))}
    return [
        Card(f"{member_no}-{i}", member_no, at, frozenset(y for y, k in on_card.items() if k <= i))
        for i, at in enumerate(chain)
    ]


def window_edges(case_windows: dict[int, DateWindow]) -> list[date]:
    """The days where validity changes with the windows: openings and closings, and either side."""
    edges = [d for y in YEARS for d in (window_of(case_windows, y).start, window_of(case_windows, y).end)]
    return [d + timedelta(days=k) for d in edges for k in (-1, 0, 1)]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    case_windows = draw(windows())
    edges = window_edges(case_windows)
    cards = [c for n in range(draw(st.integers(1, 4))) for c in draw(members(f"M{n}", edges))]
    issues = [c.issued_at.astimezone(LOCAL).date() + timedelta(days=k) for c in cards for k in (-1, 0, 1)]
    some_day = local_days(date(YEARS[0], 6, 1), date(YEARS[-1], 12, 31))
    days = draw(st.lists(st.sampled_from(edges) | st.sampled_from(issues) | some_day, min_size=1, max_size=8))
    return Case(case_windows, cards, days)


@pytest.fixture(scope="module")
def conn(db: Database) -> Iterator[psycopg.Connection]:
    """A connection of the test's own (not the pool's: its temp tables must not outlive the test)."""
    with psycopg.connect(db.url, autocommit=True) as c:
        c.execute("SET TimeZone = 'America/New_York'")  # the SQL names its zone: the session's must not matter
        c.execute("CREATE TEMP TABLE cards (card_no text PRIMARY KEY, member_no text NOT NULL,"
                  " issued_at timestamptz NOT NULL)")  # fmt: skip
        c.execute("CREATE TEMP TABLE card_registrations (card_no text NOT NULL, member_no text NOT NULL,"
                  " year integer NOT NULL, PRIMARY KEY (card_no, year))")  # fmt: skip
        for table in ("cards", "card_registrations"):
            row = c.execute(
                "SELECT n.nspname FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace"
                " WHERE k.oid = %s::regclass",
                (table,),
            ).fetchone()
            assert row is not None and str(row[0]).startswith("pg_temp"), row
        yield c


def python_verdict(card: Card, cards: list[Card], day: date, case_windows: dict[int, DateWindow]) -> bool:
    """As activities/claims.py asks it: the first issue of the member's chain, in the programme's zone;
    the card's registrations (the member's current card holds all of the member's, as claims reads them)."""
    first = min(c.issued_at for c in cards if c.member_no == card.member_no).astimezone(LOCAL).date()
    return card_valid_on(day, issued_on=first, registered_years=card.years, windows=case_windows)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_the_sql_form_agrees_with_card_valid_on(conn: psycopg.Connection, case: Case) -> None:
    with conn.transaction():
        conn.execute("TRUNCATE cards, card_registrations")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO cards (card_no, member_no, issued_at) VALUES (%s, %s, %s)",
                [(c.card_no, c.member_no, c.issued_at) for c in case.cards],
            )
            cur.executemany(
                "INSERT INTO card_registrations (card_no, member_no, year) VALUES (%s, %s, %s)",
                [(c.card_no, c.member_no, y) for c in case.cards for y in sorted(c.years)],
            )
    for day in case.days:
        params = validity_params(validity_terms(day, case.windows), TZ)
        sql: dict[str, bool] = dict(conn.execute(_VALID_SQL, params).fetchall())
        for card in case.cards:
            expected = python_verdict(card, case.cards, day, case.windows)
            assert sql[card.card_no] is expected, (card, day, case.windows, params)
