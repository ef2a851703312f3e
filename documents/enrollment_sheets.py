"""The district's 集中参保统计表 (group-enrollment statistics) as an .xlsx workbook.

One sheet lists every union's enrollment with its members, money and split, closed by a 合计
row; a second sheet sums members and money per protection type. Money arrives in integer fen
and is written as yuan numbers formatted ``#,##0.00``; every sum is taken in fen first, so the
totals never carry float drift.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from documents.workbooks import cell_text, no_formulas
from models.enrollment import Enrollment, FeeLine, fee_lines
from models.org import Organisation
from models.states import LABELS, EnrollmentStatus
from rules.calendar import local_date

SHEET_NAME = "集中参保统计表"
BY_TYPE_SHEET_NAME = "按保障类型"
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
NO_TYPE = "未选择"

ENROLLMENT_STATUS_LABELS: dict[str, str] = LABELS[EnrollmentStatus]

HEADERS = (
    "单位编号",
    "单位名称",
    "二级工会",
    "状态",
    "保障类型",
    "参保人数",
    "保障费用(元)",
    "市总统一划拨(元)",
    "区局/各级工会缴费(元)",
    "基层单位缴费(元)",
    "缴费日期",
)
COLUMN_WIDTHS = (14, 36, 24, 16, 10, 10, 16, 18, 22, 18, 13)
MEMBERS_COLUMN = 6  # 1-based: 参保人数
MONEY_COLUMNS = (7, 8, 9, 10)  # 1-based: the four money columns
DATE_COLUMN = 11
BY_TYPE_HEADERS = ("保障类型", "单位数", "参保人数", "保障费用(元)")

_BOLD = Font(bold=True)
_TITLE_FONT = Font(bold=True, size=14)


@dataclass(frozen=True)
class StatisticsRow:
    """One union's line in the statistics table."""

    org_code: str
    org_name: str
    secondary_name: str | None
    status: str  # enrollment status code, e.g. "completed"
    protection_type: str | None
    members: int
    total_fen: int
    city_fen: int
    district_fen: int
    grassroots_fen: int
    paid_on: date | None
    # (type, members, total fen) per protection type: more than one when types follow each card
    lines: tuple[tuple[str, int, int], ...] = ()

    def types_text(self) -> str:
        if len(self.lines) > 1:
            return "、".join(f"{code}（{members}人）" for code, members, _ in self.lines)
        return self.protection_type or (self.lines[0][0] if self.lines else "")


def _lines_with_members(e: Enrollment) -> list[FeeLine]:
    """The types the enrollment holds members of (its one type when it holds none)."""
    lines = fee_lines(e)
    return [line for line in lines if line.members] or lines[:1]


def statistics_row(e: Enrollment, org: Organisation, secondary_name: str | None, tz: str) -> StatisticsRow:
    """One union's line, its payment dated by the programme's time zone (``tz``)."""
    return StatisticsRow(
        org_code=org.code,
        org_name=org.name,
        secondary_name=secondary_name,
        status=e.status.value,
        protection_type=e.protection_type,
        members=e.enrolled,
        total_fen=e.total_fen,
        city_fen=e.city_fen,
        district_fen=e.district_fen,
        grassroots_fen=e.grassroots_fen,
        paid_on=local_date(e.paid_at, tz) if e.paid_at else None,
        lines=tuple((line.code, line.members, line.total_fen) for line in _lines_with_members(e)),
    )


def status_label(status: str) -> str:
    """The Chinese label of an enrollment status code; unknown codes are shown as given."""
    return ENROLLMENT_STATUS_LABELS.get(status, status)


def _to_yuan(fen: int) -> float:
    return fen / 100


def _money_fen(row: StatisticsRow) -> tuple[int, int, int, int]:
    return (row.total_fen, row.city_fen, row.district_fen, row.grassroots_fen)


def _write_title(ws: Worksheet, title: str, width: int) -> None:
    ws.cell(row=1, column=1, value=title).font = _TITLE_FONT
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")


def _write_header(ws: Worksheet, row: int, headers: Sequence[str]) -> None:
    for col, text in enumerate(headers, start=1):
        cell = ws.cell(row=row, column=col, value=text)
        cell.font = _BOLD
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _set_widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width


def _write_union_row(ws: Worksheet, r: int, row: StatisticsRow) -> None:
    values: list[str | int | float | date | None] = [
        row.org_code,
        row.org_name,
        row.secondary_name or "",
        status_label(row.status),
        row.types_text(),
        row.members,
        *(_to_yuan(fen) for fen in _money_fen(row)),
        row.paid_on,
    ]
    for col, value in enumerate(values, start=1):
        ws.cell(row=r, column=col, value=cell_text(value))
    for col in MONEY_COLUMNS:
        ws.cell(row=r, column=col).number_format = MONEY_FORMAT
    ws.cell(row=r, column=DATE_COLUMN).number_format = DATE_FORMAT


def _write_total_row(ws: Worksheet, r: int, rows: Sequence[StatisticsRow]) -> None:
    ws.cell(row=r, column=1, value="合计").font = _BOLD
    ws.cell(row=r, column=2, value=f"{len(rows)} 家单位").font = _BOLD
    ws.cell(row=r, column=MEMBERS_COLUMN, value=sum(row.members for row in rows)).font = _BOLD
    for i, col in enumerate(MONEY_COLUMNS):
        cell = ws.cell(row=r, column=col, value=_to_yuan(sum(_money_fen(row)[i] for row in rows)))
        cell.number_format = MONEY_FORMAT
        cell.font = _BOLD


def _statistics_sheet(ws: Worksheet, district_name: str, year: int, rows: Sequence[StatisticsRow]) -> None:
    ws.title = SHEET_NAME
    _write_title(ws, f"{district_name} {year}年度集中参保统计表", len(HEADERS))
    _write_header(ws, 2, HEADERS)
    for r, row in enumerate(rows, start=3):
        _write_union_row(ws, r, row)
    _write_total_row(ws, 3 + len(rows), rows)
    _set_widths(ws, COLUMN_WIDTHS)
    ws.freeze_panes = "A3"


def _by_type(rows: Sequence[StatisticsRow]) -> list[tuple[str, int, int, int]]:
    """(type, unions, members, total fen) per protection type, by type code; unset types last."""
    sums: dict[str | None, tuple[int, int, int]] = {}
    for row in rows:
        for code, line_members, line_fen in row.lines or ((row.protection_type, row.members, row.total_fen),):
            unions, members, total = sums.get(code, (0, 0, 0))
            sums[code] = (unions + 1, members + line_members, total + line_fen)
    keys = sorted(sums, key=lambda k: (k is None, k or ""))
    return [(k or NO_TYPE, *sums[k]) for k in keys]


def _by_type_sheet(ws: Worksheet, district_name: str, year: int, rows: Sequence[StatisticsRow]) -> None:
    _write_title(ws, f"{district_name} {year}年度集中参保统计表（按保障类型）", len(BY_TYPE_HEADERS))
    _write_header(ws, 2, BY_TYPE_HEADERS)
    summary = _by_type(rows)
    for r, (ptype, unions, members, total_fen) in enumerate(summary, start=3):
        ws.cell(row=r, column=1, value=cell_text(ptype))
        ws.cell(row=r, column=2, value=unions)
        ws.cell(row=r, column=3, value=members)
        ws.cell(row=r, column=4, value=_to_yuan(total_fen)).number_format = MONEY_FORMAT
    r = 3 + len(summary)
    ws.cell(row=r, column=1, value="合计").font = _BOLD
    ws.cell(row=r, column=2, value=len(rows)).font = _BOLD
    ws.cell(row=r, column=3, value=sum(row.members for row in rows)).font = _BOLD
    total = ws.cell(row=r, column=4, value=_to_yuan(sum(row.total_fen for row in rows)))
    total.number_format = MONEY_FORMAT
    total.font = _BOLD
    _set_widths(ws, (14, 10, 12, 18))
    ws.freeze_panes = "A3"


def statistics_xlsx(district_name: str, year: int, rows: list[StatisticsRow]) -> bytes:
    """The district's statistics workbook: the per-union sheet and the per-type summary."""
    wb = Workbook()
    main = wb.active
    assert main is not None
    _statistics_sheet(main, district_name, year, rows)
    _by_type_sheet(wb.create_sheet(BY_TYPE_SHEET_NAME), district_name, year, rows)
    buf = io.BytesIO()
    no_formulas(wb).save(buf)
    return buf.getvalue()
