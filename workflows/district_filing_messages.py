"""The district filing workflow's messages: what it is started with, what its activities are
sent and what it answers (a module of their own, passed through the sandbox: defined once per
worker, not once per workflow run)."""

from __future__ import annotations

from dataclasses import dataclass


def district_filing_workflow_id(district_code: str, year: int) -> str:
    return f"district-enrollment-{district_code}-{year}"


@dataclass
class DistrictFilingInput:
    filing_id: int
    district_code: str
    district_org_code: str
    district_org_path: str
    year: int
    window_opens: str  # ISO 8601 (UTC)
    window_closes: str
    window_label: str = ""


@dataclass
class FilingTotals:
    enrollments: int = 0
    members: int = 0
    total_fen: int = 0


@dataclass
class FanOut:
    """Signal every enrollment of a filing (``district_filed`` or ``district_completed``)."""

    filing_id: int
    signal: str


@dataclass
class FilingSummary:
    filing_id: int
    status: str
    totals: FilingTotals
