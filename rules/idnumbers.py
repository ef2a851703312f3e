"""Identity document numbers: mainland ID (GB 11643), passports and permits."""

from __future__ import annotations

import re
from datetime import date
from operator import mul

from models.states import LABELS, Gender, IdType

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
RESIDENT_RE = re.compile(r"^[1-9]\d{16}[\dX]$")
DOCUMENT_FORMATS: dict[IdType, re.Pattern[str]] = {
    IdType.PASSPORT: re.compile(r"^[A-Z0-9]{5,17}$"),
    IdType.HK_MACAU_PERMIT: re.compile(r"^[HM]\d{8}(\d{2})?$"),
    IdType.TAIWAN_PERMIT: re.compile(r"^(\d{8}|\d{10}[A-Z]?)$"),
    IdType.FOREIGNER_PERMIT: re.compile(r"^([A-Z]{3}\d{12}|9\d{16}[\dX])$"),
}


class IdNumberError(ValueError):
    """A refused ID number; ``code`` is a stable slug, the message is for the clerk."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_digit(first17: str) -> str:
    """GB 11643-1999 check character for the first 17 digits."""
    return CHECK_CHARS[sum(map(mul, map(int, first17), WEIGHTS)) % 11]


def parse_resident_id(number: str, today: date) -> tuple[date, Gender]:
    """Validate an 18-character mainland ID; return its birth date and gender."""
    if len(number) != 18:
        raise IdNumberError("id_number_length", f"身份证号码应为18位，实际为{len(number)}位")
    if not RESIDENT_RE.match(number):
        raise IdNumberError("id_number_format", "身份证号码应为17位数字加1位数字或X")
    if check_digit(number[:17]) != number[17]:
        raise IdNumberError("id_number_checksum", "身份证号码校验位错误，请核对号码")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError("id_number_birth_date", "身份证号码中的出生日期不存在") from None
    if birth > today:
        raise IdNumberError("id_number_birth_date", "身份证号码中的出生日期晚于今天")
    if birth.year < 1900:
        raise IdNumberError("id_number_birth_date", "身份证号码中的出生日期早于1900年")
    gender = Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
    return birth, gender


def parse_foreigner_permit(number: str, today: date) -> date | None:
    """Birth date of a 2023-format permanent residence ID (GB 11643 check digit), else None."""
    if len(number) != 18:
        return None
    if check_digit(number[:17]) != number[17]:
        raise IdNumberError("id_number_checksum", "外国人永久居留身份证号码校验位错误")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError("id_number_birth_date", "证件号码中的出生日期不存在") from None
    if birth > today:
        raise IdNumberError("id_number_birth_date", "证件号码中的出生日期晚于今天")
    return birth


def check_other_document(id_type: IdType, number: str, today: date) -> date | None:
    """Check a non-mainland document number by its own format; return a birth date if it has one."""
    pattern = DOCUMENT_FORMATS[id_type]
    if not pattern.match(number):
        raise IdNumberError("id_number_format", f"{ID_TYPE_LABELS[id_type]}号码格式不正确")
    if id_type is IdType.FOREIGNER_PERMIT:
        return parse_foreigner_permit(number, today)
    return None


ID_TYPE_LABELS: dict[IdType, str] = {t: LABELS[IdType][t.value] for t in IdType}


def mask_id(number: str) -> str:
    """``310101********123X``: an 18-character number keeps its first 6 and last 4; a shorter
    document number (a passport's 9, a permit's 11 or 15) only its first 2 and last 2."""
    if len(number) < 18:
        return number[:2] + "*" * max(len(number) - 4, 0) + number[-2:]
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """``138****5678``."""
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "*" * len(phone)
