"""Card validity runs from registration window to registration window (DOMAIN.md, Card lifecycle)."""

from __future__ import annotations

from datetime import date

from models.programme import DateWindow
from rules.card_validity import card_valid_on, default_window, validity_terms

NO_WINDOWS: dict[int, DateWindow] = {}


def valid(day: date, issued: date, years: list[int], windows: dict[int, DateWindow] = NO_WINDOWS) -> bool:
    return card_valid_on(day, issued_on=issued, registered_years=years, windows=windows)


def test_registered_in_may_is_valid_until_next_years_window_closes() -> None:
    issued = date(2024, 11, 3)
    assert valid(date(2026, 2, 1), issued, [2025])  # the seed example: registered May 2025
    assert valid(date(2025, 5, 1), issued, [2025])
    assert valid(date(2026, 6, 30), issued, [2025])
    assert not valid(date(2026, 7, 1), issued, [2025])


def test_lapsed_card_registered_again_does_not_reach_back() -> None:
    issued = date(2023, 3, 1)
    # registered 2024, not 2025: lapsed at the close of the 2025 window, registered again in May 2026
    assert valid(date(2025, 6, 30), issued, [2024, 2026])
    assert not valid(date(2026, 2, 1), issued, [2024, 2026])
    assert not valid(date(2026, 4, 30), issued, [2024, 2026])
    assert valid(date(2026, 5, 1), issued, [2024, 2026])  # from the opening of its window
    assert valid(date(2027, 6, 30), issued, [2024, 2026])


def test_card_issued_after_a_window_counts_as_registered_until_the_next_window_closes() -> None:
    issued = date(2025, 8, 15)
    assert not valid(date(2025, 8, 14), issued, [])  # not before its issue
    assert valid(date(2025, 8, 15), issued, [])
    assert valid(date(2026, 6, 30), issued, [])
    assert not valid(date(2026, 7, 1), issued, [])
    assert valid(date(2027, 6, 30), issued, [2026])


def test_registration_counts_from_the_issue_when_the_card_is_issued_inside_the_window() -> None:
    issued = date(2025, 6, 10)
    assert not valid(date(2025, 6, 9), issued, [2025])
    assert valid(date(2025, 6, 10), issued, [2025])
    assert valid(date(2026, 6, 30), issued, [2025])
    assert not valid(date(2026, 7, 1), issued, [2025])


def test_unregistered_card_issued_before_the_window_lapses_at_its_close() -> None:
    issued = date(2025, 1, 10)  # after the 2024 window: counts as registered until the 2025 window closes
    assert valid(date(2025, 6, 30), issued, [])
    assert not valid(date(2025, 7, 1), issued, [])


def test_configured_windows_replace_the_default() -> None:
    windows = {2025: DateWindow(start=date(2025, 4, 1), end=date(2025, 4, 30)),
               2026: DateWindow(start=date(2026, 5, 1), end=date(2026, 7, 15))}  # fmt: skip
    issued = date(2024, 1, 1)
    assert valid(date(2025, 4, 1), issued, [2025], windows)
    assert not valid(date(2025, 3, 31), issued, [2025], windows)
    assert valid(date(2026, 7, 15), issued, [2025], windows)  # an extended 2026 window
    assert not valid(date(2026, 7, 16), issued, [2025], windows)


def test_terms_name_the_years_and_the_last_closed_window() -> None:
    terms = validity_terms(date(2026, 2, 1), NO_WINDOWS)
    assert terms.registration_years == (2025,)
    assert terms.issued_after == date(2025, 6, 30)
    terms = validity_terms(date(2026, 5, 20), NO_WINDOWS)  # inside the 2026 window: 2025 and 2026 count
    assert terms.registration_years == (2025, 2026)
    assert terms.issued_after == date(2025, 6, 30)
    assert default_window(2030) == DateWindow(start=date(2030, 5, 1), end=date(2030, 6, 30))
