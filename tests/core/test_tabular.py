from pathlib import Path

import pytest
from openpyxl import Workbook

from core.errors import Invalid
from documents.fake_members import HEADERS, member_rows, write_csv, write_xlsx
from documents.tabular import iter_csv, preflight, xlsx_to_csv


def test_utf8_gbk_and_bom_csv_are_all_read(tmp_path: Path) -> None:
    rows = list(member_rows(3))
    for encoding, expected in (("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")):
        path = write_csv(tmp_path / f"{encoding}.csv", rows, encoding)
        layout = preflight(path)
        assert layout.encoding == expected
        records = [r for r, _ in iter_csv(path, layout.encoding, layout.data_offset, layout.delimiter)]
        assert [r[0] for r in records] == [r[0] for r in rows]  # names decoded correctly


def test_offsets_resume_exactly_even_with_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('姓名,备注\n张三,"两行\n备注"\n李四,普通\n王五,"a,b"\n', encoding="gbk")
    records = list(iter_csv(path, "gb18030"))
    assert [r for r, _ in records][1] == ["张三", "两行\n备注"]
    after_first_data = records[1][1]
    rest = [r for r, _ in iter_csv(path, "gb18030", after_first_data)]
    assert rest == [["李四", "普通"], ["王五", "a,b"]]


def test_header_can_sit_below_a_title_row_and_use_english_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("会员信息导入\nname,id_number,id_expiry,phone,work_address\n张三,1,2,3,4\n", encoding="utf-8")
    layout = preflight(path)
    assert layout.header_row == 2
    assert set(layout.positions) == {"name", "id_number", "id_expiry", "phone", "work_address"}


def test_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\t".join(HEADERS) + "\n" + "\t".join(next(member_rows(1))) + "\n", encoding="utf-8")
    assert preflight(path).delimiter == "\t"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "unsupported_file"),
        (b"%PDF-1.4 something", "unsupported_file"),
        (b"PK\x03\x04notreallyazip", "file_malformed"),
        ("姓名,证件号码\n张三,1\n".encode(), "missing_columns"),
        (",".join(HEADERS).encode() + b"\n", "empty_file"),
        (b"\n\n\n", "empty_file"),
    ],
)
def test_refused_files(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes(content)
    with pytest.raises(Invalid) as exc:
        preflight(path)
    assert exc.value.code == code


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("姓名,证件号码\n张三,1\n", encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        preflight(path)
    assert "手机号码" in exc.value.message and "工作单位详细地址" in exc.value.message


def test_xlsx_converts_with_dates_and_numbers_as_text(tmp_path: Path) -> None:
    from datetime import datetime

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS)
    row: list[object] = list(next(member_rows(1)))
    row[HEADERS.index("证件有效期至")] = datetime(2031, 5, 1)
    row[HEADERS.index("手机号码")] = 13812345678
    ws.append(row)
    wb.save(tmp_path / "m.xlsx")
    layout = preflight(tmp_path / "m.xlsx")
    assert layout.file_format == "xlsx"
    count = xlsx_to_csv(tmp_path / "m.xlsx", tmp_path / "m.csv")
    assert count == 2
    ((data, _),) = list(iter_csv(tmp_path / "m.csv", "utf-8", preflight(tmp_path / "m.csv").data_offset))
    assert data[HEADERS.index("证件有效期至")] == "2031-05-01"
    # A number cell in the phone column is kept as Excel shows it, for the rules to refuse.
    assert data[HEADERS.index("手机号码")] == "1.3812345678E+10"


def test_write_only_xlsx_from_the_generator(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "g.xlsx", member_rows(5))
    layout = preflight(path)
    assert layout.header_row == 1 and "phone" in layout.positions


def test_xlsx_reader_keeps_row_numbers_gaps_and_types(tmp_path: Path) -> None:
    from datetime import date, datetime

    from documents.xlsx_reader import iter_rows

    wb = Workbook()  # the normal writer: shared strings and styles, like Excel
    ws = wb.active
    assert ws is not None
    ws["A1"], ws["C1"] = "姓名", "证件有效期至"
    ws["A2"], ws["B2"], ws["C2"], ws["D2"] = "张三", 13812345678, datetime(2031, 5, 1), True
    ws["A5"], ws["C5"], ws["E5"] = "李四", date(2030, 1, 2), 1.5
    ws["C5"].number_format = 'yyyy"年"m"月"d"日"'
    wb.save(tmp_path / "w.xlsx")
    rows = list(iter_rows(str(tmp_path / "w.xlsx")))
    assert rows == [
        ["姓名", "", "证件有效期至"],
        ["张三", "13812345678", "2031-05-01", "是"],
        [],
        [],
        ["李四", "", "2030-01-02", "", "1.5"],
    ]


def test_a_damaged_xlsx_is_refused(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "bad.xlsx", "w") as z:
        z.writestr("xl/workbook.xml", "<workbook><sheets>")
    with pytest.raises(Invalid) as exc:
        preflight(tmp_path / "bad.xlsx")
    assert exc.value.code == "file_malformed"


def test_a_line_the_csv_module_cannot_read_is_one_malformed_record_and_reading_goes_on(tmp_path: Path) -> None:
    from documents.tabular import MalformedRecord, parse_records

    path = tmp_path / "r.csv"
    text = "姓名,备注\n张三,a\rb\n李四,x\n王五,\"x\ry\"\n赵六,ok\n"
    path.write_bytes(text.encode())
    records = [r for r, _ in iter_csv(path, "utf-8")]
    assert records[:2] == [["姓名", "备注"], ["张三,a\rb"]]
    assert records[3:] == [["王五", "x\ry"], ["赵六", "ok"]]
    assert [isinstance(r, MalformedRecord) for r in records] == [False, True, False, False, False]
    assert parse_records(text, ",") == records  # a chunk reads its lines exactly as the file is read


def test_the_four_byte_file_with_a_bare_carriage_return_is_refused_as_a_file(tmp_path: Path) -> None:
    path = tmp_path / "cr.csv"
    path.write_bytes(b"a\rb\n")
    with pytest.raises(Invalid) as exc:
        preflight(path)
    assert exc.value.code == "missing_columns"


def test_a_text_file_named_xlsx_is_not_xlsx(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", list(member_rows(2)))
    with pytest.raises(Invalid) as exc:
        preflight(path, filename="会员.XLSX")
    assert exc.value.code == "not_xlsx" and ".xlsx" in exc.value.message
    assert preflight(path, filename="会员.csv").file_format == "csv"
