"""Was a card valid on a day: validity runs from registration window to registration window.

A card registered in year Y's window is valid from that window's opening (or from its issue, if
later) until the close of year Y+1's window; a card issued after a window closed counts as
registered until the next window closes. A registration never reaches back before the opening
of its window. Days are the programme's time zone's; a window's end day is inclusive.

Claims, rosters, enrollments and lapses ask this one rule: ``card_valid_on`` for one card, and
``validity_terms`` for the same rule as SQL parameters over many cards. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from models.programme import DateWindow


def default_window(year: int) -> DateWindow:
    """The registration window of a year that does not set one: 1 May - 30 June (seed 004)."""
    return DateWindow(start=date(year, 5, 1), end=date(year, 6, 30))


def window_of(windows: Mapping[int, DateWindow], year: int) -> DateWindow:
    return windows.get(year) or default_window(year)


@dataclass(frozen=True)
class ValidityTerms:
    """On ``day`` a card issued by then is valid when it holds a registration of one of
    ``registration_years``, or when it was issued after ``issued_after`` (the last window that
    closed before the day): then it counts as registered until the next window closes."""

    day: date
    registration_years: tuple[int, ...]
    issued_after: date


def validity_terms(day: date, windows: Mapping[int, DateWindow]) -> ValidityTerms:
    """``windows``: the registration windows known (configured, or a union's own), by year; a
    year not in it has the default window. The years around ``day`` always count."""
    years = sorted(set(windows) | set(range(day.year - 2, day.year + 2)))
    registering = tuple(y for y in years if window_of(windows, y).start <= day <= window_of(windows, y + 1).end)
    closed = [window_of(windows, y).end for y in years if window_of(windows, y).end < day]
    return ValidityTerms(day, registering, max(closed, default=date.min))


def card_valid_on(
    day: date, *, issued_on: date, registered_years: Iterable[int], windows: Mapping[int, DateWindow]
) -> bool:
    """Was a card issued on ``issued_on`` (the first card of a chain of replacements) and registered
    in ``registered_years`` valid on ``day``?"""
    if issued_on > day:
        return False
    terms = validity_terms(day, windows)
    return issued_on > terms.issued_after or any(y in terms.registration_years for y in registered_years)


# A card valid on a day (rules.card_validity.validity_terms as parameters): %(day)s, %(years)s,
# %(issued_after)s and %(tz)s; the card is ``{card}`` of the member ``{member}``.
VALID_CARD_SQL = """(
    (SELECT (min(x.issued_at) AT TIME ZONE %(tz)s)::date FROM cards x WHERE x.member_no = {member}) <= %(day)s
    AND ((SELECT (min(x.issued_at) AT TIME ZONE %(tz)s)::date FROM cards x WHERE x.member_no = {member})
             > %(issued_after)s
         OR EXISTS (SELECT 1 FROM card_registrations r WHERE r.card_no = {card} AND r.year = ANY(%(years)s))))"""


def validity_params(terms: ValidityTerms, tz: str) -> dict[str, object]:
    return {"day": terms.day, "years": list(terms.registration_years), "issued_after": terms.issued_after, "tz": tz}
