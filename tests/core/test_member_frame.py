"""The columnar rules (rules.member_frame) say exactly what the row validator says, row by row:
the same problems in the same order, the same blank rows, the same COPY text of every good row.
Rows are generated (hypothesis): valid members, then cells broken or respelled at random."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from documents.fake_members import HEADERS, member_rows
from rules.member_columns import map_headers
from rules.member_frame import FrameChecker, personal_text
from rules.member_rows import RECORD_FIELDS
from tests.reference_rows import RowValidator

TODAY = date(2026, 12, 2)
POSITIONS, _ = map_headers(HEADERS)
VALID = [list(r) for r in member_rows(400, seed=6401, today=TODAY)]
COLUMN = {h: i for i, h in enumerate(HEADERS)}

# Respellings and breakages a clerk's file really holds, and some it should never hold.
ODD_CELLS = [
    "",
    " ",
    "　",
    "\t",
    "长期",
    "長期",
    "永久",
    "long-term",
    "2030-01-31",
    "2030/1/31",
    "2030年1月31日",
    "20300131",
    "２０３０－０１－３１",
    "1999-02-30",
    "2020-01-01",
    "2060-01-01",
    "47000",
    "2010-07",
    "2010年7月",
    "201007",
    "2099-01",
    "未参加",
    "是",
    "否",
    "y",
    "N",
    "有",
    "男",
    "女",
    "m",
    "F",
    "退休",
    "在职",
    "死亡",
    "已故",
    "居民身份证",
    "护照",
    "港澳通行证",
    "台胞证",
    "外国人永久居留证",
    "身份证",
    "借贷合一卡",
    "借记卡",
    "灵活就业",
    "汉族",
    "群众",
    "党员",
    "高中、技校",
    "本科",
    "x",
    "abc",
    "1.5E+17",
    "3.10105198102030216E+17",
    "1.38E+10",
    "13800138000",
    "138 0013 8000",
    "+8613800138000",
    "138-0013-8000",
    "1380013800",
    "１３８００１３８０００",
    "E12345678",
    "H12345678",
    "12345678",
    "ABC123456789012",
    "911010199003078888",
    "11010119900307451X",
    "110101199003074514",
    "110101199002304514",
    "010101199003074514",
    "110101000003074514",
    "11010119900307451",
    "上海市黄浦区南京东路100号",
    "上海市黄浦区",
    "ab\\cd",
    "路\t口",
    "a  b",
    "张　三",
    "阿依古丽·买买提",
    "李•四",
    "𠀀𠀁",
    "王😀",
    "Ｊｏｈｎ Ｓｍｉｔｈ",
    "O'Brien",
    "ﬁ",
    "①②③",
    "㐀㐁",
    "中国",
    "日本",
]


@st.composite
def rows(draw: st.DrawFn) -> list[list[str]]:
    chosen = draw(st.lists(st.sampled_from(range(len(VALID))), min_size=1, max_size=12))
    out = []
    for index in chosen:
        row = list(VALID[index])
        for _ in range(draw(st.integers(0, 4))):
            column = draw(st.sampled_from(range(len(HEADERS))))
            cell = draw(
                st.one_of(
                    st.sampled_from(ODD_CELLS),
                    st.text(alphabet="0123456789X -/年月日长期张三·\t　１２", max_size=20),
                    st.sampled_from([r[column] for r in VALID]),  # another member's value: a repeat, a swap
                )
            )
            row[column] = cell
        if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
            row = row[: draw(st.integers(0, len(row)))]  # a short row, as a CSV line may be
        out.append(row)
    return out


def compare(batch: list[list[str]]) -> None:
    reference = RowValidator(POSITIONS, TODAY).check([list(r) for r in batch])
    checked = FrameChecker(POSITIONS, TODAY).check([list(r) for r in batch])
    lines = reference.copy_lines()
    for i, row in enumerate(batch):
        assert checked.blank[i] == reference.blank[i], row
        expected = [] if reference.blank[i] else reference.problems[i]
        assert checked.problems.get(i, []) == expected, row
        if reference.good(i):
            assert checked.good(i)
            assert checked.lines[i] == lines[i], row  # a Series: one row's text
            assert checked.id_numbers[i] == reference.values["id_number"][i]
            assert checked.phones[i] == reference.values["phone"][i]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_the_columnar_rules_agree_with_the_row_validator(batch: list[list[str]]) -> None:
    compare(batch)


def test_every_odd_cell_in_every_column_agrees() -> None:
    """Each odd spelling in each column of a valid member, once: the rules' whole surface."""
    batch = []
    for column in range(len(HEADERS)):
        for cell in ODD_CELLS:
            row = list(VALID[column % len(VALID)])
            row[column] = cell
            batch.append(row)
    compare(batch)
    assert len(batch) == len(HEADERS) * len(ODD_CELLS)


def test_valid_members_are_all_good_and_their_copy_lines_hold_every_field() -> None:
    checked = FrameChecker(POSITIONS, TODAY).check([list(r) for r in VALID])
    assert not checked.problems and not any(checked.blank)
    assert all(line.count("\t") == len(RECORD_FIELDS) - 1 for line in checked.lines)


def test_plain_lines_read_as_the_rows_they_hold() -> None:
    """The CSV fast path (each line a record, split by polars) gives the frame the rows give."""
    checker = FrameChecker(POSITIONS, TODAY)
    lines = [",".join(r) + "\r" for r in VALID[:50]] + ["", ",,,", "张三,居民身份证"]
    rows_ = [r.removesuffix("\r").split(",") for r in lines]
    by_lines = checker.check_frame(*checker.frame_of_lines(lines, ","))
    by_rows = checker.check(rows_)
    assert by_lines.blank == by_rows.blank
    assert by_lines.problems == by_rows.problems
    assert by_lines.lines.to_list() == by_rows.lines.to_list()


def test_personal_text_folds_as_the_row_validator_does() -> None:
    import polars as pl

    cells = ["  张　三 ", "ＡＢ１２", "a  b", "王  五\t六", "ﬁ", " plain "]
    assert personal_text(pl.Series(cells)).to_list() == ["张 三", "AB12", "a  b", "王 五 六", "fi", "plain"]
