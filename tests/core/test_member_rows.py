from datetime import date
from typing import Any

import pytest

from rules.idnumbers import check_digit
from rules.member_columns import COLUMNS, map_headers
from tests.reference_rows import RowValidator

TODAY = date(2026, 11, 22)
HEADERS = [c.header for c in COLUMNS]


def mainland_id(birth: str = "19900307", seq: str = "283") -> str:
    body = "320106" + birth + seq
    return body + check_digit(body)


def good(**overrides: str) -> dict[str, str]:
    row = {
        "姓名": "张伟",
        "证件类型": "居民身份证",
        "证件号码": mainland_id(),
        "证件有效期至": "2030-05-01",
        "手机号码": "13812345678",
        "工作单位详细地址": "上海市黄浦区南京东路100号",
    }
    row.update(overrides)
    return row


def validate(row: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str | None, str]]]:
    positions, _ = map_headers(HEADERS)
    validator = RowValidator(positions, TODAY)
    record, problems = validator.validate_cells([row.get(h) for h in HEADERS])
    return record, [(p.column, p.code) for p in problems]


def test_a_good_row_becomes_a_record_with_derived_fields() -> None:
    record, problems = validate(good())
    assert problems == []
    assert record is not None
    assert record["gender"] == "male"  # 17th digit 3 is odd
    assert record["birth_date"] == date(1990, 3, 7)
    assert record["nationality"] == "中国"
    assert record["card_type"] == "debit"
    assert record["employment_status"] == "in_service"
    assert record["special_channel"] is False


def test_every_problem_of_a_row_is_reported() -> None:
    record, problems = validate(
        good(**{"证件有效期至": "2020-01-01", "手机号码": "23812345678", "工作单位详细地址": "上海"})
    )
    assert record is None
    assert ("证件有效期至", "id_expired") in problems
    assert ("手机号码", "invalid_phone") in problems
    assert ("工作单位详细地址", "work_address_too_short") in problems


@pytest.mark.parametrize("field", ["姓名", "证件号码", "证件有效期至", "手机号码", "工作单位详细地址"])
def test_required_fields(field: str) -> None:
    _, problems = validate(good(**{field: ""}))
    assert (field, "required") in problems


def test_work_address_needs_more_than_six_chinese_characters() -> None:
    assert ("工作单位详细地址", "work_address_too_short") in validate(
        good(**{"工作单位详细地址": "上海市黄浦区1号楼"[:7]})
    )[1]
    assert ("工作单位详细地址", "work_address_too_short") in validate(
        good(**{"工作单位详细地址": "上海黄浦南京路"[:6]})
    )[1]
    assert validate(good(**{"工作单位详细地址": "上海市黄浦区1号楼"}))[1] == []


@pytest.mark.parametrize("phone", ["1381234567", "138123456789", "12812345678", "abc"])
def test_bad_phones(phone: str) -> None:
    assert ("手机号码", "invalid_phone") in validate(good(**{"手机号码": phone}))[1]


def test_phone_and_id_normalisation() -> None:
    record, problems = validate(
        good(**{"手机号码": "+86 138-1234-5678", "证件号码": " ３２０１０６" + mainland_id()[6:]})
    )
    assert problems == []
    assert record is not None
    assert record["phone"] == "13812345678"
    assert record["id_number"] == mainland_id()


def test_lower_case_x_check_digit_is_accepted() -> None:
    record, problems = validate(good(**{"证件号码": "11010519491231002x", "证件有效期至": "长期"}))
    assert problems == []
    assert record is not None and record["id_number"] == "11010519491231002X"


@pytest.mark.parametrize(
    ("expiry", "code"),
    [
        ("2026-11-22", "id_expired"),
        ("2047-01-01", "id_expiry_too_far"),
        ("长期", "id_long_term_too_young"),  # born 1990: not 46 yet
        ("2030-02-30", "invalid_id_expiry"),
    ],
)
def test_id_expiry_rules(expiry: str, code: str) -> None:
    assert ("证件有效期至", code) in validate(good(**{"证件有效期至": expiry}))[1]


def test_long_term_for_members_over_46() -> None:
    record, problems = validate(good(**{"证件号码": mainland_id("19700101"), "证件有效期至": "长期"}))
    assert problems == []
    assert record is not None and record["id_long_term"] is True and record["id_expiry"] is None


def test_excel_date_cells_for_expiry() -> None:
    record, problems = validate(good(**{"证件有效期至": date(2031, 1, 31)}))  # type: ignore[arg-type]
    assert problems == [] and record is not None and record["id_expiry"] == date(2031, 1, 31)


def test_gender_checked_against_the_id() -> None:
    assert ("性别", "gender_mismatch") in validate(good(**{"性别": "女"}))[1]
    assert validate(good(**{"性别": "男"}))[1] == []


def test_other_documents_go_to_the_special_channel_and_need_gender_and_nationality() -> None:
    _, problems = validate(good(**{"证件类型": "护照", "证件号码": "E12345678"}))
    assert ("性别", "required") in problems
    assert ("国籍", "required") in problems
    record, problems = validate(good(**{"证件类型": "护照", "证件号码": "e12345678", "性别": "男", "国籍": "新加坡"}))
    assert problems == []
    assert record is not None and record["special_channel"] is True and "non_mainland_id" in record["special_reasons"]
    assert record["id_number"] == "E12345678"


def test_rare_characters_go_to_the_special_channel() -> None:
    record, problems = validate(good(**{"姓名": "王堃"}))
    assert problems == []
    assert record is not None and record["special_channel"] is True and record["special_reasons"] == "rare_characters"


def test_names() -> None:
    assert validate(good(**{"姓名": "阿依古丽•买买提"}))[0] is not None  # dot variants become ·
    assert ("姓名", "invalid_name") in validate(good(**{"姓名": "张3"}))[1]


def test_retirement_needs_a_past_date() -> None:
    assert ("退休日期", "required") in validate(good(**{"在职状态": "退休"}))[1]
    assert ("退休日期", "date_in_future") in validate(good(**{"在职状态": "退休", "退休日期": "2030-01-01"}))[1]
    record, problems = validate(good(**{"在职状态": "退休", "退休日期": "2024年6月30日"}))
    assert problems == [] and record is not None and record["retirement_date"] == date(2024, 6, 30)


def test_choice_columns_refuse_unknown_values() -> None:
    _, problems = validate(good(**{"学历": "幼儿园", "办卡类型": "信用卡", "是否农村户口": "也许"}))
    assert ("学历", "invalid_value") in problems
    assert ("办卡类型", "invalid_value") in problems
    assert ("是否农村户口", "invalid_value") in problems


@pytest.mark.parametrize("written", ["高中/技校", "高中、技校", "高中", "技校"])
def test_high_school_is_one_value_and_the_old_spelling_is_accepted(written: str) -> None:
    record, problems = validate(good(**{"学历": written}))
    assert problems == [] and record is not None and record["education"] == "高中/技校"
    allowed = next(c.allowed for c in COLUMNS if c.key == "education")
    assert "高中/技校" in allowed and not any("、" in value for value in allowed)


def test_months_and_social_insurance() -> None:
    record, _ = validate(good(**{"参加工作时间": "2012年7月", "开始参加社保时间": "未参加"}))
    assert record is not None and record["work_start_month"] == "2012-07" and record["social_insured"] is False
    record, _ = validate(good(**{"开始参加社保时间": "2012/7"}))
    assert record is not None and record["social_insured"] is True
    assert ("加入工会时间", "date_in_future") in validate(good(**{"加入工会时间": "2027-01"}))[1]


def test_a_blank_row_is_skipped_not_rejected() -> None:
    assert validate({}) == (None, [])
