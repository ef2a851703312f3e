"""What the door accepts: text without control characters or broken encoding, within its column's
length; integers and amounts within their columns' range; and the Chinese label of every field
a refusal names. Every request body derives from ``RequestBody``; path and query strings are
checked by the API's door (api/door.py) with the same rules."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

INT4_MAX = 2**31 - 1  # ids and counts are PostgreSQL integers
YEAR_MIN, YEAR_MAX = 2000, 2100  # programme years
MONEY_MAX = Decimal("1000000.00")  # a price or a claim amount, CNY
PAYMENT_MAX = Decimal(INT4_MAX) / 100  # a payment received, CNY (kept in fen in an integer column)
PAGE_MAX = 100_000  # pages of a list
ITEMS_MAX = 20_000  # members or cards named in one request

# C0 and C1 control characters, lone surrogates (text that cannot be stored as UTF-8), line and
# paragraph separators; a multi-line text may hold tabs and line breaks.
_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MULTILINE_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
FORBIDDEN_CHARACTER = "text_forbidden_character"


class Multiline:
    """Marks a text field where tabs and line breaks make sense (a description, a reason)."""


MULTILINE = Multiline()


def forbidden_at(text: str, *, multiline: bool = False) -> int | None:
    """The position of the first character the service does not store, or None."""
    found = (_MULTILINE_FORBIDDEN if multiline else _LINE_FORBIDDEN).search(text)
    return found.start() if found else None


def _check(value: Any, multiline: bool, path: tuple[str | int, ...] = ()) -> None:
    """Every string in ``value``, however deep (lists, objects and their keys); ``path`` says where."""
    if isinstance(value, str):
        at = forbidden_at(value, multiline=multiline)
        if at is not None:
            raise PydanticCustomError(
                FORBIDDEN_CHARACTER, "forbidden character at position {position}", {"position": at + 1, "path": path}
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, False, path)
            _check(item, multiline, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, multiline, (*path, i))


class RequestBody(BaseModel):
    """A request's body: no string in it, nested ones included, carries a control character, a
    NUL or a lone surrogate (tabs and line breaks only in fields marked ``MULTILINE``). Lengths
    are each field's own ``max_length``, equal to its column's."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_forbidden_characters(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        multiline = field is not None and any(isinstance(m, Multiline) for m in field.metadata)
        _check(value, multiline)
        return value


MemberNo = Annotated[str, Field(pattern=r"^\d{10}$", min_length=10, max_length=10, examples=["1010000001"])]
CardNo = Annotated[str, Field(pattern=r"^\d{12,19}$", min_length=12, max_length=19)]
# In JSON an amount is a decimal string with two places and no separators ("10000.00", "98.80").
Money = Annotated[
    Decimal,
    Field(ge=0, le=MONEY_MAX, max_digits=9, decimal_places=2),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
]

# The label a clerk reads for each field of a request (bodies, paths and queries).
LABELS: dict[str, str] = {
    "code": "组织代码", "name": "名称", "level": "组织层级", "grassroots_type": "基层工会类型",
    "parent_code": "上级组织代码", "org_code": "所属组织代码", "role": "角色", "org": "组织",
    "id_expiry": "证件有效期", "phone": "手机号码", "contact_address": "联系地址", "work_address": "工作单位地址",
    "employment_status": "在职状态", "retirement_date": "退休日期", "deceased_date": "身故日期",
    "channel": "制卡渠道", "bank_branch": "开户网点", "member_nos": "会员编号", "member_no": "会员编号",
    "all_without_card": "全部未办卡会员", "reason": "原因", "applicant_name": "申请人姓名",
    "applicant_phone": "申请人手机号码", "approve": "审批结果", "replace": "补卡", "kind": "类型",
    "illness": "疾病", "hospitalised": "住院", "event_date": "事发日期", "description": "申请说明",
    "beneficiary_name": "受益人姓名", "beneficiary_relation": "受益人关系", "decision": "审核决定",
    "year": "年度", "all": "全部", "all_cards": "全部卡", "protection_type": "保障类型", "amount": "金额",
    "reference": "转账凭证号", "card_nos": "卡号", "card_no": "卡号", "action": "修复操作",
    "activity_id": "活动编号", "workflow_id": "流程编号", "step": "步骤", "page": "页码", "size": "每页条数",
    "status": "状态", "overdue": "逾期", "q": "查询内容", "subtree": "包含下级单位", "reveal": "显示完整信息",
    "check": "校验结果", "errors_offset": "错误起始位置", "errors_limit": "错误条数", "limit": "条数",
    "entity": "对象", "type": "流程类型", "stale_for": "停留时长", "failing": "失败中",
    "include_closed": "包含已结束", "page_token": "翻页标记", "format": "格式", "filename": "文件名",
    "wait": "等待完成", "file": "文件", "token": "令牌", "plan_name": "计划名称", "protection_types": "保障类型",
    "price": "价格", "coverage": "保障期", "default_split": "默认分担比例", "split_window": "比例设置窗口",
    "submission_window": "基层提交窗口", "payment_deadline": "缴费截止日", "district_window": "区局提交窗口",
    "registration_window": "卡注册窗口", "claim_amounts": "给付金额", "claim_time_limit_days": "申请时限（天）",
    "return_timeout_days": "退回等待时限（天）", "city": "市总比例", "district": "区局比例",
    "grassroots": "基层比例", "start": "开始日", "end": "结束日", "batch_id": "批次编号",
    "claim_id": "给付申请编号", "evidence_id": "材料编号", "enrollment_id": "参保记录编号", "import_id": "导入编号",
    "x-namespace": "命名空间", "card_status": "卡状态", "category": "名单类别",
    "new_date": "延期后的日期", "district_code": "区局代码",
    "types_by_card": "按办卡时间确定的保障类型", "cards_until": "办卡截止日", "login": "登录名", "password": "密码",
    "setup_code": "设置码", "current_password": "当前密码", "new_password": "新密码", "expires_at": "失效时间",
    "token_id": "令牌编号", "nationality": "国籍",
    "id_type": "证件类型", "id_number": "证件号码",
}  # fmt: skip
