"""Spreadsheets the service hands out: the import template and an import's rejected rows."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from core.member_columns import COLUMNS

_BOLD = Font(bold=True)
_MANDATORY_FILL = PatternFill("solid", fgColor="FFF2CC")


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


def errors_xlsx(headers: list[str], rows: Iterable[tuple[int, list[Any], list[str]]]) -> bytes:
    """Rejected rows as uploaded plus 原行号 and 错误原因, ready to fix and upload again."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "退回的行"
    ws.append([*headers, "原行号", "错误原因"])
    for cell in ws[1]:
        cell.font = _BOLD
    width = len(headers)
    for row_no, cells, messages in rows:
        padded = [*cells[:width], *[""] * (width - len(cells))]
        ws.append([*padded, row_no, "；".join(messages)])
    for index in range(1, width + 1):
        ws.column_dimensions[get_column_letter(index)].width = 16
        for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
            cell.number_format = "@"
    ws.column_dimensions[get_column_letter(width + 2)].width = 60
    for (cell,) in ws.iter_rows(min_row=2, min_col=width + 2, max_col=width + 2):
        cell.alignment = Alignment(wrap_text=True)
    return _save(wb)


def _save(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
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
            values.append(value.value if hasattr(value, "value") else value)
        ws.append(values)
    for index in range(1, len(ROSTER_COLUMNS) + 1):
        ws.column_dimensions[get_column_letter(index)].width = 18
    return _save(wb)
