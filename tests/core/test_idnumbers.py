from datetime import date

import pytest

from models.states import Gender, IdType
from rules.idnumbers import IdNumberError, check_digit, check_other_document, mask_id, mask_phone, parse_resident_id

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("11010519491231002", "X"),  # the standard's own example
        ("44052418800101001", "4"),  # a textbook example
    ],
)
def test_check_digit_vectors(first17: str, expected: str) -> None:
    assert check_digit(first17) == expected


def _iso7064_mod11_2(digits: str) -> str:
    """The same check character computed the other way the standard describes (ISO 7064 MOD 11-2)."""
    p = 0
    for d in digits:
        p = ((p + int(d)) * 2) % 11
    value = (12 - p) % 11
    return "X" if value == 10 else str(value)


def test_check_digit_agrees_with_iso7064_on_many_numbers() -> None:
    import random

    rng = random.Random(11643)
    for _ in range(2000):
        body = "".join(str(rng.randrange(10)) for _ in range(17))
        assert check_digit(body) == _iso7064_mod11_2(body)


def test_valid_id_gives_birth_date_and_gender() -> None:
    birth, gender = parse_resident_id("11010519491231002X", TODAY)
    assert birth == date(1949, 12, 31)
    assert gender is Gender.FEMALE  # 17th digit 2 is even
    _, gender = parse_resident_id(_with_check("32010619900307283"), TODAY)
    assert gender is Gender.MALE


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("11010519491231002", "id_number_length"),
        ("11010519491231002XX", "id_number_length"),
        ("1101051949123100AX", "id_number_format"),
        ("01010519491231002X", "id_number_format"),
        ("110105194912310021", "id_number_checksum"),
        ("110105" + "20230230" + "001", "id_number_length"),
    ],
)
def test_bad_ids_are_refused_with_a_code(number: str, code: str) -> None:
    with pytest.raises(IdNumberError) as exc:
        parse_resident_id(number, TODAY)
    assert exc.value.code == code


def _with_check(first17: str) -> str:
    return first17 + check_digit(first17)


def test_impossible_and_future_birth_dates() -> None:
    with pytest.raises(IdNumberError, match="不存在") as exc:
        parse_resident_id(_with_check("11010520230230001"), TODAY)
    assert exc.value.code == "id_number_birth_date"
    with pytest.raises(IdNumberError, match="晚于今天"):
        parse_resident_id(_with_check("11010520301231001"), TODAY)
    with pytest.raises(IdNumberError, match="1900"):
        parse_resident_id(_with_check("11010518991231001"), TODAY)


@pytest.mark.parametrize(
    ("id_type", "number", "ok"),
    [
        (IdType.PASSPORT, "E12345678", True),
        (IdType.PASSPORT, "X1", False),
        (IdType.HK_MACAU_PERMIT, "H12345678", True),
        (IdType.HK_MACAU_PERMIT, "M1234567890", True),
        (IdType.HK_MACAU_PERMIT, "A12345678", False),
        (IdType.TAIWAN_PERMIT, "12345678", True),
        (IdType.TAIWAN_PERMIT, "1234567890B", True),
        (IdType.TAIWAN_PERMIT, "1234", False),
        (IdType.FOREIGNER_PERMIT, "USA310085101512", True),
        (IdType.FOREIGNER_PERMIT, _with_check("93184019851231001"), True),
        (
            IdType.FOREIGNER_PERMIT,
            "93184019851231001" + ("0" if check_digit("93184019851231001") != "0" else "1"),
            False,
        ),
    ],
)
def test_other_documents_by_their_own_formats(id_type: IdType, number: str, ok: bool) -> None:
    if ok:
        check_other_document(id_type, number, TODAY)
    else:
        with pytest.raises(IdNumberError):
            check_other_document(id_type, number, TODAY)


def test_masks_keep_only_the_ends() -> None:
    assert mask_id("11010519491231002X") == "110105********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert "1949" not in mask_id("11010519491231002X")
    assert mask_id("E12345678") == "E1*****78"  # a passport: never more than its ends
    assert mask_id("H1234567890") == "H1*******90"
