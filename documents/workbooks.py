"""Spreadsheets the service hands out: the import template, an import's rejected rows, a roster.

No cell we write is ever a formula: a text that begins with ``=`` (a member's work address typed
as ``=HYPERLINK(...)``) is written as a text cell with its value unchanged, so a spreadsheet
program shows it and never runs it, and a file read back gives the same text. Characters XML
cannot hold (control characters other than tab and newlines) are written in OOXML's own escape
``_x0001_``, which Excel reads back as the character.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from enum import StrEnum
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from models.states import label
from rules.member_columns import COLUMNS

_BOLD = Font(bold=True)
_MANDATORY_FILL = PatternFill("solid", fgColor="FFF2CC")
_WRAP = Alignment(wrap_text=True)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"  # the media type of .xlsx


def cell_text(value: Any) -> Any:
    """``value`` as a cell can hold it: a text's characters that XML cannot carry are escaped."""
    if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
        return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return value


def text_cell(ws: Any, value: Any, **style: Any) -> Cell:
    """A cell of a write-only sheet holding ``value``: a text is a text cell, never a formula."""
    cell = WriteOnlyCell(ws, cell_text(value))
    if cell.data_type == "f":
        cell.data_type = "s"
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def no_formulas(wb: Workbook) -> Workbook:
    """Every formula cell of a workbook we filled with data made a text cell again (we write none)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    return wb


def template_xlsx() -> bytes:
    """The import template: Chinese headers (mandatory ones marked *), a sheet of allowed values,
    drop-downs on enumerated columns, and text format for ID numbers and phones."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "会员信息"
    allowed = wb.create_sheet("允许值")
    allowed.append(["列", "英文键", "必填", "允许值 / 说明"])
    for cell in allowed[1]:
        cell.font = _BOLD
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        header = ws.cell(row=1, column=index, value=column.header + ("*" if column.mandatory else ""))
        header.font = _BOLD
        if column.mandatory:
            header.fill = _MANDATORY_FILL
        ws.column_dimensions[letter].width = max(12, len(column.header) * 2 + 4)
        if column.key in ("id_number", "phone"):
            ws.column_dimensions[letter].number_format = "@"  # text: Excel keeps all 18 digits
        values = "、".join(column.allowed)
        allowed.append(
            [
                column.header,
                column.key,
                "是" if column.mandatory else "否",
                "；".join(x for x in (values, column.hint) if x),
            ]
        )
        if column.allowed and column.choices and len(column.allowed) <= 12:
            dv = DataValidation(type="list", formula1='"' + ",".join(column.allowed) + '"', allow_blank=True)
            dv.add(f"{letter}2:{letter}10000")
            ws.add_data_validation(dv)
    allowed.column_dimensions["A"].width = 20
    allowed.column_dimensions["B"].width = 24
    allowed.column_dimensions["D"].width = 80
    ws.freeze_panes = "A2"
    return _save(wb)


ErrorRows = Iterable[tuple[int, list[Any], list[str]]]  # (row number, cells as uploaded, messages)


def write_errors_xlsx(out: IO[bytes] | str, headers: list[str], rows: ErrorRows) -> None:
    """Rejected rows as uploaded plus 原行号 and 错误原因, ready to fix and upload again. Written row by
    row in openpyxl's write-only mode: 260,000 rejected rows take no more memory than ten."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("退回的行")
    width = len(headers)
    for index in range(1, width + 1):
        ws.column_dimensions[get_column_letter(index)].width = 16
    ws.column_dimensions[get_column_letter(width + 2)].width = 60
    ws.append([text_cell(ws, h, font=_BOLD) for h in [*headers, "原行号", "错误原因"]])
    for row_no, cells, messages in rows:
        padded = [*cells[:width], *[""] * (width - len(cells))]
        ws.append(
            [
                *(text_cell(ws, c, number_format="@") for c in padded),
                row_no,
                text_cell(ws, "；".join(messages), alignment=_WRAP),
            ]
        )
    wb.save(out)


def errors_xlsx(headers: list[str], rows: ErrorRows) -> bytes:
    buf = io.BytesIO()
    write_errors_xlsx(buf, headers, rows)
    return buf.getvalue()


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    no_formulas(wb).save(buf)
    return buf.getvalue()


ROSTER_COLUMNS = (
    ("会员编号", "member_no"),
    ("姓名", "name"),
    ("证件类型", "id_type"),
    ("证件号码", "id_number"),
    ("证件有效期至", "id_expiry"),
    ("性别", "gender"),
    ("国籍", "nationality"),
    ("手机号码", "phone"),
    ("联系地址", "contact_address"),
    ("工作单位详细地址", "work_address"),
    ("职业", "occupation"),
    ("办卡类型", "card_type"),
)


def roster_xlsx(batch_no: str, union_name: str, branch: str, members: Iterable[Any]) -> bytes:
    """批量办理借记卡明细清单: one row per member, full data, for printing and stamping."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "明细清单"
    ws.append([f"批量办理借记卡明细清单　批次号：{batch_no}　单位：{union_name}　网点：{branch}"])
    ws.append([header for header, _ in ROSTER_COLUMNS])
    for cell in ws[2]:
        cell.font = _BOLD
    for m in members:
        values = []
        for _, key in ROSTER_COLUMNS:
            value = getattr(m, key)
            if key == "id_expiry" and value is None and m.id_long_term:
                value = "长期"
            values.append(cell_text(label(value) if isinstance(value, StrEnum) else value))
        ws.append(values)
    for index in range(1, len(ROSTER_COLUMNS) + 1):
        ws.column_dimensions[get_column_letter(index)].width = 18
    return _save(wb)
