"""The calamine reader: fastexcel's text with the typed cells found in the sheet's XML, as the
clerk sees them (and as the hand-written reader it replaced showed them)."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from core.errors import Invalid
from documents.fake_members import HEADERS, member_rows, write_xlsx
from documents.tabular import iter_csv, preflight, xlsx_to_csv
from documents.xlsx_reader import XlsxError, iter_rows, number_text
from tests.xlsx_files import header_row, inline, write_parts

ID, PHONE, EXPIRY = HEADERS.index("证件号码"), HEADERS.index("手机号码"), HEADERS.index("证件有效期至")


def package(path: Path, rows: list[bytes], **kwargs: object) -> Path:
    """``write_parts``, which writes the package parts calamine insists on."""
    return write_parts(path, rows, **kwargs)  # type: ignore[arg-type]


def csv_rows(src: Path, tmp_path: Path) -> list[list[str]]:
    out = tmp_path / "out.csv"
    count = xlsx_to_csv(src, out)
    rows = [r for r, _ in iter_csv(out, "utf-8")]
    assert len(rows) == count
    return rows


def members_sheet(tmp_path: Path, cells: dict[int, object], rows: int = 1) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS)
    for row in member_rows(rows, seed=11):
        typed: list[object] = list(row)
        for column, value in cells.items():
            typed[column] = value
        ws.append(typed)
    wb.save(tmp_path / "m.xlsx")
    return tmp_path / "m.xlsx"


def test_number_cells_in_the_id_and_phone_columns_are_shown_as_excel_shows_them(tmp_path: Path) -> None:
    path = members_sheet(tmp_path, {ID: 310105198102030216, PHONE: 13812345678, EXPIRY: 20301231})
    (_, data) = csv_rows(path, tmp_path)
    # From the stored <v> (openpyxl writes the float's repr), never the float's 18 digits.
    assert data[ID] == "3.101051981020302E+17"
    assert data[PHONE] == "1.3812345678E+10"
    assert data[EXPIRY] == "20301231"  # another column: the number as the clerk sees it


def test_id_and_phone_typed_as_text_stay_text_even_when_all_digits(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "g.xlsx", member_rows(3, seed=12))
    rows = csv_rows(path, tmp_path)
    expected = list(member_rows(3, seed=12))
    assert [r[ID] for r in rows[1:]] == [r[ID] for r in expected]
    assert [r[PHONE] for r in rows[1:]] == [r[PHONE] for r in expected]
    assert rows[1:] == expected


def test_the_raw_value_of_a_number_cell_is_what_the_e_format_is_made_of(tmp_path: Path) -> None:
    """Excel stores 15 significant digits: <v>3.1010519810203E+17</v> is shown as such."""
    headers = b"".join(inline(f"{chr(65 + i)}1", h) for i, h in enumerate(HEADERS))
    row = b'<row r="2"><c r="C2"><v>3.1010519810203E+17</v></c><c r="K2" s="0" t="n"><v>13812345678</v></c></row>'
    path = package(tmp_path / "raw.xlsx", [b'<row r="1">' + headers + b"</row>", row])
    (_, data) = csv_rows(path, tmp_path)
    assert (data[ID], data[PHONE]) == ("3.1010519810203E+17", "1.3812345678E+10")


def test_dates_by_style_booleans_and_numbers_as_the_old_reader_showed_them(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["a", "b", "c", "d", "e", "f", "g", "h"])
    ws.append([datetime(2031, 5, 1, 13, 45), date(2030, 1, 2), True, False, "true", 1.0, 1.5, "1.0"])
    ws["B2"].number_format = 'yyyy"年"m"月"d"日"'
    ws.append([45000, 0.5, 1e20, "=1/0", "0123", 3.10105198102030216e17, None, " 张三 "])
    ws["A3"].number_format = "h:mm"  # a time format shows no date: the number
    ws["B3"].number_format = "yyyy-mm-dd hh:mm"
    wb.save(tmp_path / "t.xlsx")
    assert list(iter_rows(str(tmp_path / "t.xlsx"))) == [
        ["a", "b", "c", "d", "e", "f", "g", "h"],
        ["2031-05-01", "2030-01-02", "是", "否", "true", "1", "1.5", "1.0"],
        ["45000", "1899-12-30", "100000000000000000000", "", "0123", "310105198102030208", "", " 张三 "],
    ]


def test_an_iso_date_cell_and_a_formulas_text_are_kept(tmp_path: Path) -> None:
    row = (
        b'<row r="2"><c r="A2" t="d"><v>2030-01-02T00:00:00</v></c><c r="B2" t="str"><f>A1</f><v>abc</v></c>'
        b'<c r="C2" t="e"><v>#DIV/0!</v></c><c r="D2"><f>1+1</f><v>2</v></c><c r="E2"><v>1.50</v></c></row>'
    )
    path = package(tmp_path / "d.xlsx", [header_row(), row])
    assert list(iter_rows(str(path)))[1] == ["2030-01-02T00:00:00", "abc", "", "2", "1.50"]


def test_blank_rows_and_columns_before_and_between_keep_their_places(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws["B3"], ws["C3"], ws["C5"], ws["D7"] = "x", "y", 5, True
    wb.save(tmp_path / "o.xlsx")
    assert list(iter_rows(str(tmp_path / "o.xlsx"))) == [
        [],
        [],
        ["", "x", "y"],
        [],
        ["", "", "5"],
        [],
        ["", "", "", "是"],
    ]


def test_a_header_below_blank_rows_gives_its_row_number_and_a_typed_phone(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    row: list[object] = list(next(member_rows(1, seed=13)))
    row[PHONE] = int(str(row[PHONE]))
    for i, value in enumerate(HEADERS):
        ws.cell(row=3, column=i + 1, value=value)
        ws.cell(row=4, column=i + 1, value=cast(Any, row[i]))
    wb.save(tmp_path / "h.xlsx")
    layout = preflight(tmp_path / "h.xlsx")
    assert layout.header_row == 3
    rows = csv_rows(tmp_path / "h.xlsx", tmp_path)
    assert rows[0] == [""] * len(HEADERS) and rows[2] == HEADERS
    assert rows[3][PHONE].endswith("E+10")


def test_number_cells_across_the_searchs_blocks_are_all_found(tmp_path: Path) -> None:
    """200,000 cells (7 MB of XML): the search reads 4 MB at a time, a cell cut by a block's end too."""
    body = (
        f'<row r="{i}"><c r="A{i}"><v>{i}.50</v></c><c r="B{i}" t="b"><v>1</v></c></row>'.encode()
        for i in range(2, 100_002)
    )
    path = package(tmp_path / "many.xlsx", [header_row(), *body])
    rows = list(iter_rows(str(path)))
    assert len(rows) == 100_001
    assert all(r == [f"{i}.50", "是"] for i, r in enumerate(rows[1:], start=2))  # fastexcel alone: "2.5", "true"


def test_a_sheet_whose_cells_have_no_references_is_read_cell_by_cell(tmp_path: Path) -> None:
    row = b'<row><c><v>13812345678</v></c><c t="b"><v>0</v></c><c t="inlineStr"><is><t>x</t></is></c></row>'
    path = package(tmp_path / "noref.xlsx", [header_row(), row])
    assert list(iter_rows(str(path)))[1] == ["13812345678", "否", "x"]


def test_corrupt_files_are_malformed(tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "m.xlsx", member_rows(3, seed=14))
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[:-200])
    bad_xml = package(tmp_path / "x.xlsx", [header_row(), b'<row r="2"><c r="A2" t="inlineStr"><is><t>x</is>'])
    no_sheet = tmp_path / "w.xlsx"
    with zipfile.ZipFile(no_sheet, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook><sheets>")
    for path in (cut, bad_xml, no_sheet):
        with pytest.raises(Invalid) as exc:
            xlsx_to_csv(path, tmp_path / "o.csv")
        assert exc.value.code == "file_malformed", path
        with pytest.raises(Invalid) as exc:
            preflight(path)
        assert exc.value.code == "file_malformed", path
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.partial").exists()
    with pytest.raises(XlsxError):
        list(iter_rows(str(bad_xml)))


cell_values = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=-(10**8), max_value=10**8).map(lambda i: i / 4),  # exact in binary, as openpyxl writes it
    st.booleans(),
    st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31)),
    st.text(alphabet="张三李四0123456789.-E ab", min_size=1, max_size=8).filter(lambda s: s.strip() == s),
    st.none(),
)


def expected_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return number_text(repr(value) if isinstance(value, float) else str(value), False)
    return str(value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cell_values, min_size=1, max_size=6), min_size=1, max_size=8))
def test_generated_sheets_read_as_the_clerk_sees_them(tmp_path: Path, grid: list[list[object]]) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r, row in enumerate(grid, start=2):  # row 1 is a title, as on the template
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=cast(Any, value))
    ws["A1"] = "会员信息"
    wb.save(tmp_path / "p.xlsx")
    expected = [[expected_text(v) for v in row] for row in grid]
    for cells in expected:
        while cells and cells[-1] == "":
            cells.pop()
    while expected and not expected[-1]:
        expected.pop()  # rows after the last value are not in the sheet
    assert list(iter_rows(str(tmp_path / "p.xlsx"))) == [["会员信息"], *expected]
