"""The preflight's streaming look at an xlsx's first rows: the same cells the reader gives, read
only as far as needed."""

from __future__ import annotations

from datetime import date
from itertools import islice
from pathlib import Path

import pytest
from openpyxl import Workbook

from core.errors import Invalid
from documents import xlsx_head
from documents.fake_members import HEADERS, member_rows
from documents.tabular import preflight
from documents.xlsx_reader import XlsxError, iter_rows
from tests.xlsx_files import header_row, write_parts


def test_the_first_rows_are_the_readers_first_rows(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["会员信息表"])
    ws.append([])
    ws.append(HEADERS)
    for i, row in enumerate(member_rows(6, seed=6421)):
        typed: list[object] = list(row)
        if i == 1:
            typed[HEADERS.index("证件号码")] = 310105198102030216  # a number cell
            typed[HEADERS.index("手机号码")] = 13800138001
            typed[HEADERS.index("证件有效期至")] = date(2031, 5, 6)
            typed[HEADERS.index("是否农村户口")] = True
        ws.append(typed)
    path = tmp_path / "m.xlsx"
    wb.save(path)
    head = list(xlsx_head.first_rows(str(path), max_columns=256))
    assert head == list(iter_rows(str(path)))[: len(head)]
    assert len(head) == 9 and head[1] == [] and head[2] == HEADERS
    assert head[4][HEADERS.index("证件有效期至")] == "2031-05-06"
    assert head[4][HEADERS.index("是否农村户口")] == "是"


def test_a_big_string_table_is_not_read_to_its_end(tmp_path: Path) -> None:
    strings = (f"<si><t>文本{i:06d}</t></si>".encode() for i in range(xlsx_head.STRINGS_READ + 5_000))
    late = xlsx_head.STRINGS_READ + 4_000
    rows = [header_row(), f'<row r="2"><c r="A2" t="s"><v>{late}</v></c><c r="B2" t="s"><v>7</v></c></row>'.encode()]
    path = write_parts(tmp_path / "strings.xlsx", rows, strings=strings)
    head = list(islice(xlsx_head.first_rows(str(path), max_columns=256), 2))
    assert head[1] == ["…", "文本000007"]  # not blank, and never read that far
    assert preflight(path).header_row == 1


def test_a_corrupt_sheet_is_refused_as_the_reader_refuses_it(tmp_path: Path) -> None:
    path = write_parts(tmp_path / "bad.xlsx", [header_row(), b'<row r="2"><c r="A2" t="s"><v>x'])
    with pytest.raises(XlsxError):
        list(xlsx_head.first_rows(str(path), max_columns=256))
    with pytest.raises(Invalid) as refused:
        preflight(path)
    assert refused.value.code == "file_malformed"
