"""The API's door: path and query strings checked like request bodies (models/inputs.py), an id
no row can have answered as not found, and validation refusals in Chinese with each field's
label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request

from core.errors import Invalid, NotFound
from models.inputs import FORBIDDEN_CHARACTER, INT4_MAX, LABELS, YEAR_MAX, YEAR_MIN, forbidden_at
from models.states import LABELS as VALUE_LABELS

PARAM_MAX_LENGTH = 1000  # any path or query value (each has its own, shorter, where it matters)

# Integer ids in paths: one outside the column's range names no row.
_ID_PARAMS = {
    "batch_id": ("batch_not_found", "批次 {} 不存在"),
    "claim_id": ("claim_not_found", "给付申请 {} 不存在"),
    "evidence_id": ("evidence_not_found", "材料 {} 不存在"),
    "enrollment_id": ("enrollment_not_found", "参保记录 {} 不存在"),
    "import_id": ("import_not_found", "导入 {} 不存在"),
    "token_id": ("token_not_found", "访问令牌 {} 不存在"),
}

_MESSAGES = {
    "missing": "必须填写",
    "string_too_long": "过长（最多 {max_length} 个字符）",
    "string_too_short": "过短（至少 {min_length} 个字符）",
    "too_long": "过多（最多 {max_length} 项）",
    "too_short": "过少（至少 {min_length} 项）",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文本",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "int_parsing_size": "数值过大",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_max_digits": "位数过多（最多 {max_digits} 位数字）",
    "decimal_whole_digits": "整数部分位数过多（最多 {whole_digits} 位）",
    "enum": "应为以下之一：{expected}",
    "literal_error": "应为以下之一：{expected}",
    "date_parsing": "应为日期（如 2024-01-31）",
    "date_from_datetime_parsing": "应为日期（如 2024-01-31）",
    "date_from_datetime_inexact": "应为日期（如 2024-01-31）",
    "date_type": "应为日期（如 2024-01-31）",
    "datetime_parsing": "应为时间（如 2024-01-31T08:00:00+08:00）",
    "datetime_type": "应为时间（如 2024-01-31T08:00:00+08:00）",
    "datetime_from_date_parsing": "应为时间（如 2024-01-31T08:00:00+08:00）",
    "timezone_aware": "应带时区（如 2024-01-31T08:00:00+08:00）",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "model_attributes_type": "应为一个对象",
    "dict_type": "应为一个对象",
    "model_type": "应为一个对象",
    "list_type": "应为一个列表",
    "extra_forbidden": "是不认识的字段",
    FORBIDDEN_CHARACTER: "含有不允许的字符（第 {position} 个字符：控制字符、空字符或无效编码）",
}


def _code_labels() -> dict[str, str]:
    """Each enum code with its Chinese label, where every enum having the code agrees on it."""
    seen: dict[str, set[str]] = {}
    for labels in VALUE_LABELS.values():
        for code, text in labels.items():
            seen.setdefault(code, set()).add(text)
    return {code: texts.pop() for code, texts in seen.items() if len(texts) == 1}


_CODE_LABELS = _code_labels()


def label(loc: Sequence[Any]) -> str:
    """The field a refusal is about, as a clerk reads it: ``保障类型 第2项 价格``."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else list(loc)
    words = [f"第{p + 1}项" if isinstance(p, int) else _word(str(p)) for p in parts]
    return " ".join(words)


def _word(name: str) -> str:
    """A field's label, or the label of an enum code used as a key (``claim_amounts.critical_illness``)."""
    return LABELS.get(name) or _CODE_LABELS.get(name, name)


def message(error: dict[str, Any]) -> str:
    """One pydantic error in Chinese; a model's own refusals (already Chinese) as they are."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error") or error["msg"])
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    template = _MESSAGES.get(kind, "格式不正确")
    try:
        return template.format(**{k: _choices(v) if k == "expected" else _readable(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        return template.split("（")[0].split("{")[0] or "格式不正确"


def _readable(value: Any) -> str:
    return str(value).replace("'", "").replace(" or ", "、")


def _choices(expected: Any) -> str:
    """pydantic's "'clerk', 'reviewer' or 'admin'" as "clerk（经办人）、reviewer（审核人）、admin（管理员）"."""
    codes = [c.strip().strip("'") for c in str(expected).replace(" or ", ", ").split(", ") if c.strip()]
    labels = next((known for known in VALUE_LABELS.values() if set(codes) <= set(known)), _CODE_LABELS)
    return "、".join(f"{c}（{labels[c]}）" if c in labels else c for c in codes)


def refusal(errors: Sequence[Any]) -> Invalid:
    """A 422 for the errors of a request: every field with its label and what is wrong with it."""
    details = []
    for e in errors:
        loc = (*(e.get("loc") or ()), *(e.get("ctx") or {}).get("path", ()))  # where inside a list or object
        details.append(
            {"field": ".".join(str(p) for p in loc), "label": label(loc), "message": message(e), "type": e["type"]}
        )
    text = "；".join(f"{d['label']} {d['message']}".strip() for d in details)
    return Invalid("invalid_request", "请求内容不正确：" + text, details=details)


async def check_door(request: Request) -> None:
    """Every path and query value: no control character, no absurd length; an id out of its
    column's range is a row that cannot exist (404). Runs before the route looks at anything."""
    values = [("path", k, v) for k, v in request.path_params.items()]
    values += [("query", k, v) for k, v in request.query_params.multi_items()]
    errors: list[dict[str, Any]] = []
    for where, name, value in values:
        if not isinstance(value, str):
            continue
        at = forbidden_at(value)
        if at is not None:
            errors.append({"loc": (where, name), "type": FORBIDDEN_CHARACTER, "ctx": {"position": at + 1}})
        elif len(value) > PARAM_MAX_LENGTH:
            errors.append({"loc": (where, name), "type": "string_too_long", "ctx": {"max_length": PARAM_MAX_LENGTH}})
        elif where == "path" and name in _ID_PARAMS:
            _id_in_range(name, value)
        elif where == "path" and name == "year" and value.isdigit() and not YEAR_MIN <= int(value) <= YEAR_MAX:
            kind = "greater_than_equal" if int(value) < YEAR_MIN else "less_than_equal"
            errors.append({"loc": (where, name), "type": kind, "ctx": {"ge": YEAR_MIN, "le": YEAR_MAX}})
    if errors:
        raise refusal(errors)


def _id_in_range(name: str, value: str) -> None:
    try:
        number = int(value)
    except ValueError:
        return  # not a number at all: the route's own validation says so
    if not 1 <= number <= INT4_MAX:
        code, text = _ID_PARAMS[name]
        raise NotFound(code, text.format(value))
