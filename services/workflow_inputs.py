"""The inputs of the yearly workflows, built once from a programme year's configuration: window
instants in UTC (ISO 8601) and the labels a clerk reads in refusals."""

from __future__ import annotations

from models.programme import ProgrammeYearConfig
from rules.calendar import bounds, end_of
from workflows.district_filing import DistrictFilingInput
from workflows.enrollment import EnrollmentInput


def enrollment_input(
    config: ProgrammeYearConfig,
    tz: str,
    *,
    enrollment_id: int,
    org: tuple[str, str],  # code, path
    district_code: str,
    secondary_code: str | None,
    year: int,
    kind: str,
) -> EnrollmentInput:
    opens, closes = bounds(config.submission_window, tz)
    return EnrollmentInput(
        enrollment_id=enrollment_id,
        org_code=org[0],
        org_path=org[1],
        district_code=district_code,
        district_org_code=district_code,  # a district union's code is its district code
        secondary_code=secondary_code,
        year=year,
        kind=kind,
        submission_opens=opens.isoformat(),
        submission_closes=closes.isoformat(),
        payment_due=end_of(config.payment_deadline, tz).isoformat(),
        coverage_ends=end_of(config.coverage.end, tz).isoformat(),
        submission_label=config.submission_window.label(),
        payment_due_label=config.payment_deadline.isoformat(),
    )


def district_filing_input(
    config: ProgrammeYearConfig, tz: str, *, filing_id: int, district: tuple[str, str], year: int
) -> DistrictFilingInput:
    opens, closes = bounds(config.district_window, tz)
    code, path = district
    return DistrictFilingInput(
        filing_id, code, code, path, year, opens.isoformat(), closes.isoformat(), config.district_window.label()
    )
