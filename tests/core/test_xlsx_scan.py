"""The xlsx pre-scan refuses hostile packages before any reader opens them, in little memory."""

from __future__ import annotations

import resource
import zipfile
from pathlib import Path

import pytest

from core.errors import AppError, Invalid
from documents.fake_members import member_rows, write_xlsx
from documents.tabular import preflight, xlsx_to_csv
from documents.xlsx_reader import XlsxError, iter_rows
from documents.xlsx_scan import XlsxLimits, scan_xlsx
from tests.xlsx_files import bomb, header_row, inline, repeated, write_parts

LIMITS = XlsxLimits()


def refused(path: Path, limits: XlsxLimits = LIMITS) -> AppError:
    with pytest.raises(AppError) as exc:
        scan_xlsx(path, limits)
    return exc.value


def test_a_real_workbook_passes(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "m.xlsx", member_rows(200, seed=3))
    scan_xlsx(path, LIMITS)
    assert preflight(path).file_format == "xlsx"


@pytest.mark.parametrize("in_strings", [False, True])
def test_one_cell_inflating_to_256_mb_is_refused_by_its_ratio_in_constant_memory(
    tmp_path: Path, in_strings: bool
) -> None:
    path = bomb(tmp_path / "bomb.xlsx", in_strings=in_strings)
    assert path.stat().st_size < 400_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = refused(path)
    assert (error.code, error.status_code) == ("file_too_large", 413)
    assert "压缩比" in error.message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KB: nothing inflated whole


def test_a_cell_longer_than_excel_allows_is_refused_even_when_it_compresses_normally(tmp_path: Path) -> None:
    path = bomb(tmp_path / "long.xlsx", size=2 << 20)  # ratio check passed with a lax limit
    error = refused(path, XlsxLimits(max_ratio=10_000))
    assert (error.code, error.status_code) == ("file_malformed", 422)
    with pytest.raises(XlsxError):  # and the reader itself refuses it too
        list(iter_rows(str(path)))


def test_uncompressed_sizes_of_a_part_and_of_the_whole_are_limited(tmp_path: Path) -> None:
    rows = [header_row(), *repeated(b'<row><c t="inlineStr"><is><t>x</t></is></c></row>', 3 << 20)]
    path = write_parts(tmp_path / "big.xlsx", rows)
    part = refused(path, XlsxLimits(max_part_bytes=2 << 20, max_ratio=10_000))
    assert part.code == "file_too_large" and part.details["part"] == "xl/worksheets/sheet1.xml"
    total = refused(path, XlsxLimits(max_total_bytes=2 << 20, max_ratio=10_000))
    assert total.code == "file_too_large" and total.details["bytes"] > 3 << 20


def test_a_column_beyond_the_allowed_ones_is_refused_in_a_cell_or_the_dimension(tmp_path: Path) -> None:
    far = write_parts(tmp_path / "far.xlsx", [header_row(), b'<row r="2">' + inline("AAAAA2", "x") + b"</row>"])
    error = refused(far)
    assert error.code == "file_malformed" and "AAAAA2" in error.message
    with pytest.raises(Invalid) as converted:  # the conversion's own pre-scan refuses it before calamine
        xlsx_to_csv(far, tmp_path / "far.csv")  # would pad 475,254 columns (minutes)
    assert converted.value.code == "file_malformed" and not (tmp_path / "far.csv").exists()
    just = write_parts(tmp_path / "iw.xlsx", [header_row(), b'<row r="2">' + inline("IW2", "x") + b"</row>"])
    assert refused(just).code == "file_malformed"  # column 257
    with pytest.raises(XlsxError):  # and the reader itself refuses the column past its limit
        list(iter_rows(str(just), max_columns=256))
    scan_xlsx(just, XlsxLimits(max_columns=257))
    wide = write_parts(tmp_path / "dim.xlsx", [header_row()], dimension="A1:XFD9")
    assert refused(wide).code == "file_malformed"


def test_a_cell_without_a_reference_still_counts_its_column(tmp_path: Path) -> None:
    cells = b"<c><v>1</v></c>" * 300
    path = write_parts(tmp_path / "noref.xlsx", [header_row(), b'<row r="2">' + cells + b"</row>"])
    with pytest.raises(XlsxError):
        list(iter_rows(str(path), max_columns=256))


def test_a_row_beyond_excels_last_row_is_refused(tmp_path: Path) -> None:
    path = write_parts(tmp_path / "rows.xlsx", [header_row(), b'<row r="99999999999">' + inline("A9", "x") + b"</row>"])
    assert refused(path).code == "file_malformed"


def test_the_number_of_shared_strings_is_limited(tmp_path: Path) -> None:
    strings = (f"<si><t>{i}</t></si>".encode() for i in range(5000))
    path = write_parts(tmp_path / "sst.xlsx", [header_row()], strings=strings)
    error = refused(path, XlsxLimits(max_strings=4999))
    assert error.code == "file_too_large" and error.status_code == 413
    scan_xlsx(path, XlsxLimits(max_strings=5000))


def test_damaged_and_encrypted_packages_are_malformed(tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "m.xlsx", member_rows(3, seed=4))
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[:-200])
    assert refused(cut).code == "file_malformed"
    flipped = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
    flipped[start : start + 8] = b"\x00" * 8
    (tmp_path / "crc.xlsx").write_bytes(bytes(flipped))
    assert refused(tmp_path / "crc.xlsx").code == "file_malformed"


def test_an_id_number_typed_as_a_number_is_kept_as_excel_shows_it(tmp_path: Path) -> None:
    """Never 310105198102030208 (what the float of 310105198102030216 is): the rules refuse it."""
    from openpyxl import Workbook

    from documents.fake_members import HEADERS

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS)
    for number in (310105198102030216, 3.10105198102030216e17):
        row: list[object] = list(next(member_rows(1, seed=5)))
        row[HEADERS.index("证件号码")] = number
        ws.append(row)
    wb.save(tmp_path / "n.xlsx")
    xlsx_to_csv(tmp_path / "n.xlsx", tmp_path / "n.csv")
    lines = (tmp_path / "n.csv").read_text(encoding="utf-8").splitlines()
    ids = [line.split(",")[HEADERS.index("证件号码")] for line in lines[1:]]
    assert len(ids) == 2 and all(i.startswith("3.10105198102030") and i.endswith("E+17") for i in ids), ids
    assert "310105198102030208" not in (tmp_path / "n.csv").read_text(encoding="utf-8")
