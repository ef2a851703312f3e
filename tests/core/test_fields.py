from datetime import date, datetime

import pytest

from rules.fields import FieldError, chinese_char_count, clean, in_gb2312, parse_bool, parse_date, parse_month


@pytest.mark.parametrize(
    "text",
    ["2024-01-31", "2024/1/31", "2024年1月31日", "2024.01.31", "20240131", "2024 年 1 月 31 日", "45322"],
)
def test_date_formats(text: str) -> None:
    assert parse_date(text) == date(2024, 1, 31)


def test_excel_date_cells_pass_through() -> None:
    assert parse_date(date(2024, 1, 31)) == date(2024, 1, 31)
    assert clean(datetime(2024, 1, 31, 0, 0)) == date(2024, 1, 31)


@pytest.mark.parametrize("text", ["2024-02-30", "31/01/2024", "明天", "2024-13-01"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(FieldError) as exc:
        parse_date(text)
    assert exc.value.code == "invalid_date"


@pytest.mark.parametrize("text", ["2010-07", "2010/7", "2010年7月", "201007", "2010-07-15"])
def test_month_formats(text: str) -> None:
    assert parse_month(text) == "2010-07"


def test_bad_month() -> None:
    with pytest.raises(FieldError):
        parse_month("2010-13")


def test_clean_normalises_full_width_and_whitespace() -> None:
    assert clean("１３８　００１３ ８０００ ") == "138 0013 8000"
    assert clean("  张\t三  ") == "张 三"
    assert clean("   ") is None
    assert clean(None) is None
    assert clean(13800138000) == "13800138000"
    assert clean(13800138000.0) == "13800138000"


def test_booleans() -> None:
    assert parse_bool("是") is True
    assert parse_bool("否") is False
    assert parse_bool("Yes") is True
    with pytest.raises(FieldError):
        parse_bool("也许")


def test_chinese_characters_and_gb2312() -> None:
    assert chinese_char_count("上海市黄浦区100号") == 7
    assert in_gb2312("张三")
    assert not in_gb2312("𠮷田")
    assert not in_gb2312("王堃")  # 堃 is outside GB2312: the special card channel
