"""Dates people read are the programme's dates (UNIONCARD_TIMEZONE, Asia/Shanghai), not UTC's:
00:30 in Shanghai is 16:30 UTC the day before, and a payment at 02:23 Beijing time is dated
that morning's day on the statistics sheet."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from documents.enrollment_sheets import DATE_COLUMN, statistics_row, statistics_xlsx
from models.enrollment import Enrollment
from models.org import Organisation
from models.states import EnrollmentKind, EnrollmentStatus, OrgLevel
from rules.calendar import local_date, today

TZ = "Asia/Shanghai"
HALF_PAST_MIDNIGHT_IN_SHANGHAI = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 2026-03-02 00:30 +08:00
PAID_AT_0223_BEIJING = datetime(2026, 3, 1, 18, 23, tzinfo=UTC)  # 2026-03-02 02:23 +08:00


def test_a_moment_is_dated_by_the_programme_time_zone() -> None:
    assert local_date(HALF_PAST_MIDNIGHT_IN_SHANGHAI, TZ) == date(2026, 3, 2)
    assert local_date(datetime(2026, 3, 1, 15, 59, tzinfo=UTC), TZ) == date(2026, 3, 1)
    assert local_date(HALF_PAST_MIDNIGHT_IN_SHANGHAI, "UTC") == date(2026, 3, 1)
    assert today(TZ, HALF_PAST_MIDNIGHT_IN_SHANGHAI) == date(2026, 3, 2)  # batch numbers, windows, imports


def test_a_payment_at_0223_beijing_time_is_dated_that_day_on_the_statistics_sheet() -> None:
    e = Enrollment(
        org_id=1, year=2026, kind=EnrollmentKind.REGULAR, status=EnrollmentStatus.PAID, district_code="101",
        protection_type="A", enrolled=3, total_fen=300, grassroots_fen=100, paid_at=PAID_AT_0223_BEIJING,
        workflow_id="w", created_by=1,
    )  # fmt: skip
    org = Organisation(code="101-0001", name="某某公司工会", level=OrgLevel.GRASSROOTS, path="/1/2/")
    row = statistics_row(e, org, None, TZ)
    assert row.paid_on == date(2026, 3, 2)
    sheet = load_workbook(io.BytesIO(statistics_xlsx("区局", 2026, [row]))).worksheets[0]
    dates = [c.value for c in sheet.iter_cols(min_col=DATE_COLUMN, max_col=DATE_COLUMN).__next__() if c.value]
    assert datetime(2026, 3, 2) in dates
