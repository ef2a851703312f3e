"""Workflow inputs that carry instants, and the programme year of an instant.

Workflows import this module passed through the sandbox: inside the sandbox ``datetime`` is a
restricted proxy that the data converter does not recognise as a field type, and ``zoneinfo``
objects do not mix with it. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass
class RegistrationInput:
    """One grassroots union's registration for a year (workflow ``registration-<org>-<year>``)."""

    registration_id: int
    org_code: str
    org_path: str
    district_code: str
    year: int
    opens_at: datetime  # 00:00 of the window's first day, programme time zone
    closes_at: datetime  # 24:00 of the window's last day
    opens_on: str = ""  # the window's days as the clerk reads them (YYYY-MM-DD)
    closes_on: str = ""


def local_year(moment: datetime, timezone: str) -> int:
    """The calendar year of ``moment`` in the programme's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).year


@dataclass
class OpenRegistrations:
    """The yearly opener's activity input: the year and the workflow's clock."""

    year: int
    now: datetime  # windows already over by then are not opened any more


@dataclass
class DateExtension:
    """An extension's signal to a running workflow: the date ``kind`` now ends at ``until``."""

    kind: str  # models.states.ExtensionKind's value
    until: datetime  # 24:00 of the new last day, programme time zone
    label: str  # the new deadline day, or the whole window, as the clerk reads it
    extension_id: int = 0
