"""The per-person member rules as one polars query: name, document number (GB 11643 check digit,
birth date, the other documents' formats), gender, expiry, phone, address and retirement.

Each rule is a step: a column of its own (``_name``, ``_number``, ``_birth`` ...) that later
steps read, so a shared expression is computed once; the query runs once at the end. A rule's
outcome is a problem slot (``<slot>_code``, ``<slot>_msg``) in the row validator's order, and the
row's values come out as COPY text (``t_<field>``).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from models.states import EmploymentStatus, IdType
from rules.idnumbers import CHECK_CHARS, DOCUMENT_FORMATS, ID_TYPE_LABELS, RESIDENT_RE, WEIGHTS
from rules.member_cells import AS_NUMBER, NULL
from rules.member_columns import BY_KEY
from rules.member_rows import LONG_TERM_MIN_AGE, NAME_DOTS, NAME_RE, RESIDENT

# The row rules' own patterns and tables (Python's regex syntax here reads the same in polars')
_DOTS = {chr(code): dot for code, dot in NAME_DOTS.items()}
_NAME = NAME_RE.pattern
_AS_NUMBER = f"^(?:{AS_NUMBER.pattern})$"
_FORMATS = {id_type.value: pattern.pattern for id_type, pattern in DOCUMENT_FORMATS.items()}
_SEVEN_CJK = r"^(?:[^\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}]*[\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}]){7}"
FREE_TEXT = ("contact_address", "household_registration")
c = pl.col


def _outside_gb2312() -> str:
    """A character class of the name characters GB 2312 lacks (the bank's systems cannot print
    them: such a member goes through the special channel)."""
    ranges: list[tuple[int, int]] = []
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF)):
        for code in range(lo, hi + 1):
            try:
                chr(code).encode("gb2312")
            except UnicodeEncodeError:
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1] = (ranges[-1][0], code)
                else:
                    ranges.append((code, code))
    parts = [f"\\x{{{a:x}}}-\\x{{{b:x}}}" if a != b else f"\\x{{{a:x}}}" for a, b in ranges]
    return "[·\\x{20000}-\\x{3134a}" + "".join(parts) + "]"


_RARE = _outside_gb2312()


def copy_escaped(e: pl.Expr) -> pl.Expr:
    """Text in PostgreSQL's COPY text format (backslash, tab, newline and carriage return escaped)."""
    return (
        e.str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all("\t", "\\t", literal=True)
        .str.replace_all("\n", "\\n", literal=True)
        .str.replace_all("\r", "\\r", literal=True)
    )


def copy_text(e: pl.Expr) -> pl.Expr:
    return pl.when(e.is_null()).then(pl.lit(NULL)).otherwise(copy_escaped(e))


def _or_none(e: pl.Expr) -> pl.Expr:
    return pl.when(e.eq("")).then(None).otherwise(e)


class PersonQuery:
    """The query over one chunk's personal columns (trimmed and normalised already) and the
    parsed ``_id_type``, ``_gender``, ``_employment_status``, ``_retirement_date``, ``_exp_*``
    and ``_phone_*`` columns."""

    def __init__(self, df: pl.DataFrame, today: date) -> None:
        self.lf = df.lazy()
        self.today = pl.lit(today)
        self.out: list[pl.Expr] = []
        self.slots: list[tuple[str, str | None]] = []  # (slot, column header), in order

    def put(self, name: str, expr: pl.Expr) -> pl.Expr:
        self.lf = self.lf.with_columns(expr.alias(name))
        return c(name)

    def slot(self, name: str, key: str, code: pl.Expr | str, message: pl.Expr | str, when: pl.Expr) -> None:
        code_e = pl.lit(code) if isinstance(code, str) else code
        message_e = pl.lit(message) if isinstance(message, str) else message
        self.out += [
            pl.when(when).then(code_e).alias(f"{name}_code"),
            pl.when(when).then(message_e).alias(f"{name}_msg"),
        ]
        self.slots.append((name, BY_KEY[key].header))

    def run(self) -> pl.DataFrame:
        self._inputs()
        self._name()
        self._resident_number()
        self._other_number()
        self._document()
        self._gender()
        self._expiry()
        self._phone_address_retirement()
        self._values()
        return self.lf.select(self.out).collect()

    def _inputs(self) -> None:
        self.put("_id_type", pl.when(c("_id_type") == NULL).then(None).otherwise(c("_id_type")))
        self.put("_given", pl.when(c("_gender") == NULL).then(None).otherwise(c("_gender")))
        number = c("id_number").str.replace_all(" ", "", literal=True).str.to_uppercase()
        self.put("_number", number)
        self.put("_as_number", c("_number").str.contains(_AS_NUMBER))
        self.put("_empty", c("_number").eq(""))
        self.put("_resident", c("_id_type").eq(RESIDENT))
        self.put("_length", c("_number").str.len_chars())

    def _name(self) -> None:
        raw = c("name")
        folded = raw.str.replace_many(list(_DOTS), list(_DOTS.values())).str.replace_all(r"\s+", " ")
        name = self.put("_name", folded.str.strip_chars(" "))
        empty = self.put("_name_empty", raw.eq(""))
        length = name.str.len_chars()
        bad = self.put("_name_bad", ~empty & ((length < 2) | (length > 60) | ~name.str.contains(_NAME)))
        self.slot("name", "name", "required", "姓名不能为空", empty)
        self.put("_rare", ~empty & ~bad & name.str.contains(_RARE))
        self.slot("name_bad", "name", "invalid_name", "姓名只能包含汉字、字母、间隔号“·”，长度2至60", bad)

    def _resident_number(self) -> None:
        number, length, today = c("_number"), c("_length"), self.today
        body = number.str.slice(0, 17).cast(pl.Int64, strict=False)  # read only where 17 digits lead
        total = pl.sum_horizontal([(body // 10 ** (16 - i)) % 10 * w for i, w in enumerate(WEIGHTS)])
        check_char = pl.lit(CHECK_CHARS).str.slice((total % 11).cast(pl.Int64), 1)
        ok = self.put("_checksum_ok", check_char.eq(number.str.slice(17, 1)))
        born = self.put("_born", number.str.slice(6, 4).cast(pl.Int64, strict=False))
        birth = self.put("_birth", pl.when(born >= 1).then(number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)))
        bad_format = ~number.str.contains(RESIDENT_RE.pattern)
        self.put("_res_code", (
            pl.when(length != 18).then(pl.lit("id_number_length"))
            .when(bad_format).then(pl.lit("id_number_format"))
            .when(~ok).then(pl.lit("id_number_checksum"))
            .when(birth.is_null() | (birth > today) | (born < 1900)).then(pl.lit("id_number_birth_date"))
        ))  # fmt: skip
        self.put("_res_msg", (
            pl.when(length != 18).then(pl.format("身份证号码应为18位，实际为{}位", length))
            .when(bad_format).then(pl.lit("身份证号码应为17位数字加1位数字或X"))
            .when(~ok).then(pl.lit("身份证号码校验位错误，请核对号码"))
            .when(birth.is_null()).then(pl.lit("身份证号码中的出生日期不存在"))
            .when(birth > today).then(pl.lit("身份证号码中的出生日期晚于今天"))
            .when(born < 1900).then(pl.lit("身份证号码中的出生日期早于1900年"))
        ))  # fmt: skip

    def _other_number(self) -> None:
        id_type, number, today = c("_id_type"), c("_number"), self.today
        ok: pl.Expr = pl.lit(False)
        label: pl.Expr = pl.lit(None, dtype=pl.String)
        for value, pattern in _FORMATS.items():
            ok = pl.when(id_type.eq(value)).then(number.str.contains(pattern)).otherwise(ok)
            label = pl.when(id_type.eq(value)).then(pl.lit(ID_TYPE_LABELS[IdType(value)])).otherwise(label)
        ok, label = self.put("_other_ok", ok), self.put("_other_label", label)
        permit18 = self.put("_permit18", id_type.eq(IdType.FOREIGNER_PERMIT.value) & ok & (c("_length") == 18))
        checksum_ok, birth = c("_checksum_ok"), c("_birth")
        self.put("_oth_code", (
            pl.when(~ok).then(pl.lit("id_number_format"))
            .when(permit18 & ~checksum_ok).then(pl.lit("id_number_checksum"))
            .when(permit18 & (birth.is_null() | (birth > today))).then(pl.lit("id_number_birth_date"))
        ))  # fmt: skip
        self.put("_oth_msg", (
            pl.when(~ok).then(pl.format("{}号码格式不正确", label))
            .when(permit18 & ~checksum_ok).then(pl.lit("外国人永久居留身份证号码校验位错误"))
            .when(permit18 & birth.is_null()).then(pl.lit("证件号码中的出生日期不存在"))
            .when(permit18 & (birth > today)).then(pl.lit("证件号码中的出生日期晚于今天"))
        ))  # fmt: skip

    def _document(self) -> None:
        resident, known, as_number, empty = c("_resident"), c("_id_type").is_not_null(), c("_as_number"), c("_empty")
        doc_code = pl.when(resident).then(c("_res_code")).when(known).then(c("_oth_code"))
        doc_msg = pl.when(resident).then(c("_res_msg")).when(known).then(c("_oth_msg"))
        code = self.put(
            "_id_code",
            pl.when(as_number).then(pl.lit("number_cell")).when(empty).then(pl.lit("required")).otherwise(doc_code),
        )
        message = self.put(
            "_id_msg",
            pl.when(as_number)
            .then(pl.format("Excel 将此列保存为数字（{}），请把该列设为文本格式后重新填写", c("_number")))
            .when(empty)
            .then(pl.lit("证件号码不能为空"))
            .otherwise(doc_msg),
        )
        self.slot("id", "id_number", code, message, code.is_not_null())
        fine = self.put("_doc_fine", ~as_number & ~empty & code.is_null())
        self.put(
            "_birth_value",
            pl.when(fine & (resident | c("_permit18"))).then(c("_birth")).otherwise(pl.lit(None, dtype=pl.Date)),
        )
        odd = c("_number").str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1
        self.put(
            "_derived", pl.when(fine & resident).then(pl.when(odd).then(pl.lit("male")).otherwise(pl.lit("female")))
        )

    def _gender(self) -> None:
        given, derived = c("_given"), c("_derived")
        mismatch = derived.is_not_null() & given.is_not_null() & (given != derived)
        self.slot("gender_mismatch", "gender", "gender_mismatch", "性别与身份证号码不符", mismatch)
        gender = self.put("_gender", pl.coalesce(given, derived))
        non_resident = self.put("_non_resident", c("_id_type").is_not_null() & ~c("_resident"))
        self.slot(
            "gender_required", "gender", "required", "非居民身份证人员须填写性别", non_resident & gender.is_null()
        )
        missing = non_resident & c("nationality").eq("")
        self.slot("nationality", "nationality", "required", "非居民身份证人员须填写国籍", missing)

    def _expiry(self) -> None:
        today, birth = self.today, c("_birth_value")
        long_term = self.put("_long_term", c("_exp_long").fill_null(False))
        before_birthday = (today.dt.month() * 100 + today.dt.day()) < (birth.dt.month() * 100 + birth.dt.day())
        age = today.dt.year() - birth.dt.year() - before_birthday.cast(pl.Int64)
        too_young = long_term & c("_resident") & birth.is_not_null() & (age < LONG_TERM_MIN_AGE)
        parsed = c("_exp_code").is_not_null()
        code = self.put(
            "_expiry_code", pl.when(parsed).then(c("_exp_code")).when(too_young).then(pl.lit("id_long_term_too_young"))
        )
        message = (
            pl.when(parsed)
            .then(c("_exp_msg"))
            .when(too_young)
            .then(pl.lit("未满46周岁的居民身份证不会是长期有效，请核对证件有效期"))
        )
        self.slot("expiry", "id_expiry", code, message, code.is_not_null())
        self.put("_expiry_ok", c("_exp_code").is_null())  # the text itself parsed

    def _phone_address_retirement(self) -> None:
        plain = c("_phone_plain")
        self.put("_phone_value", pl.when(plain).then(c("phone")).otherwise(c("_phone_value")))
        code = self.put("_phone_code", pl.when(plain).then(None).otherwise(c("_phone_code")))
        self.slot("phone", "phone", code, c("_phone_msg"), code.is_not_null())
        address = c("work_address")
        self.slot("address", "work_address", "required", "工作单位详细地址不能为空", address.eq(""))
        short = ~address.eq("") & ~address.str.contains(_SEVEN_CJK)
        self.slot("address_short", "work_address", "work_address_too_short", "工作单位详细地址须超过6个汉字", short)
        retired = c("_employment_status").eq(EmploymentStatus.RETIRED.value) & c("_retirement_date").eq(NULL)
        self.slot("retirement", "retirement_date", "required", "退休人员须填写退休日期", retired)

    def _values(self) -> None:
        rare = c("_rare")
        non_mainland = c("_id_type").is_not_null() & ~c("_resident") & ~c("_as_number") & ~c("_empty")
        reasons = self.put("_reasons", (
            pl.when(rare & non_mainland).then(pl.lit("rare_characters,non_mainland_id"))
            .when(rare).then(pl.lit("rare_characters"))
            .when(non_mainland).then(pl.lit("non_mainland_id"))
        ))  # fmt: skip
        number = self.put("_number_value", pl.when(c("_empty")).then(None).otherwise(c("_number")))
        birth, expiry_ok, phone = c("_birth_value"), c("_expiry_ok"), c("_phone_value")
        self.out += [
            copy_text(pl.when(c("_name_empty")).then(None).otherwise(c("_name"))).alias("t_name"),
            copy_text(number).alias("t_id_number"),
            number.alias("v_id_number"),
            pl.when(birth.is_null()).then(pl.lit(NULL)).otherwise(birth.dt.to_string("%Y-%m-%d")).alias("t_birth_date"),
            copy_text(c("_gender")).alias("t_gender"),
            pl.when(expiry_ok & c("_exp_date").is_not_null())
            .then(c("_exp_date").dt.to_string("%Y-%m-%d"))
            .otherwise(pl.lit(NULL))
            .alias("t_id_expiry"),
            pl.when(expiry_ok & c("_long_term")).then(pl.lit("t")).otherwise(pl.lit("f")).alias("t_id_long_term"),
            copy_text(pl.when(c("nationality").eq("")).then(pl.lit("中国")).otherwise(c("nationality"))).alias(
                "t_nationality"
            ),
            copy_text(phone).alias("t_phone"),
            phone.alias("v_phone"),
            copy_text(_or_none(c("work_address"))).alias("t_work_address"),
            pl.when(reasons.is_not_null()).then(pl.lit("t")).otherwise(pl.lit("f")).alias("t_special_channel"),
            copy_text(reasons).alias("t_special_reasons"),
            *(copy_text(_or_none(c(k))).alias(f"t_{k}") for k in FREE_TEXT),
        ]
