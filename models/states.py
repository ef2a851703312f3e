"""Every enumerated state and category, declared once (standard library only).

Used by SQLModel columns, the OpenAPI schema, and by ``workflows/machines.py``.
"""

from __future__ import annotations

from enum import StrEnum


class OrgLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    SECONDARY = "secondary"
    GRASSROOTS = "grassroots"


class GrassrootsType(StrEnum):
    """Grassroots union types (seed 002: 支持的工会类型)."""

    COMMITTEE = "committee"  # 工会委员会
    JOINT = "joint"  # 联合工会
    SUBDISTRICT = "subdistrict"  # 街道总工会
    FEDERATION = "federation"  # 工会联合会: not supported for card work
    BRANCH = "branch"  # 分工会/工会小组: not supported for card work


GRASSROOTS_TYPE_LABELS: dict[GrassrootsType, str] = {
    GrassrootsType.COMMITTEE: "工会委员会",
    GrassrootsType.JOINT: "联合工会",
    GrassrootsType.SUBDISTRICT: "街道总工会",
    GrassrootsType.FEDERATION: "工会联合会",
    GrassrootsType.BRANCH: "分工会/工会小组",
}
CARD_WORK_UNSUPPORTED = frozenset({GrassrootsType.FEDERATION, GrassrootsType.BRANCH})


class Role(StrEnum):
    CLERK = "clerk"
    REVIEWER = "reviewer"
    CENTER_REVIEWER = "center_reviewer"
    ADMIN = "admin"


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"  # 居民身份证
    PASSPORT = "passport"  # 护照
    HK_MACAU_PERMIT = "hk_macau_permit"  # 港澳居民来往内地通行证
    TAIWAN_PERMIT = "taiwan_permit"  # 台湾居民来往大陆通行证
    FOREIGNER_PERMIT = "foreigner_permit"  # 外国人永久居留身份证


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class EmploymentStatus(StrEnum):
    IN_SERVICE = "in_service"
    RETIRED = "retired"
    DECEASED = "deceased"


class Affiliation(StrEnum):
    ENTERPRISE = "enterprise"  # 企业内
    FLEXIBLE = "flexible"  # 灵活就业
    OUTSIDE = "outside"  # 企业外入会


class CardType(StrEnum):
    DEBIT = "debit"  # 借记卡
    DEBIT_CREDIT = "debit_credit"  # 借贷合一卡


class CardStatus(StrEnum):
    """A member's card as the registry sees it."""

    NONE = "none"
    PENDING = "pending"
    ISSUED = "issued"
    ACTIVATED = "activated"
    REGISTERED = "registered"  # registered for the year (年度注册)
    LOST = "lost"
    REPLACED = "replaced"
    LAPSED = "lapsed"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class CardBatchStatus(StrEnum):
    """A card batch (办卡批次) from the pending list to issued cards (seed 003)."""

    PENDING = "pending"  # 待办: members being gathered, not yet checked
    VALIDATED = "validated"  # every member checked
    SUBMITTED = "submitted"  # sent to the bank
    REVOCATION_REQUESTED = "revocation_requested"  # 撤销申请, waiting for the district
    REVOKED = "revoked"  # revocation approved: members released
    BANK_FEEDBACK = "bank_feedback"  # the bank has reported on some members
    ISSUED = "issued"  # every member has an outcome
    CANCELLED = "cancelled"  # dropped before submission


class CardChannel(StrEnum):
    NORMAL = "normal"
    SPECIAL = "special"  # 特殊办卡通道: rare characters, non-mainland documents


class MemberCheck(StrEnum):
    UNCHECKED = "unchecked"
    PASSED = "passed"
    FAILED = "failed"


class CardOutcome(StrEnum):
    ISSUED = "issued"
    REJECTED = "rejected"


VALID_CARD_STATUSES = ("issued", "activated", "registered")  # a card payouts and enrollment accept


class RegistrationStatus(StrEnum):
    """A union's yearly card registration (年度注册), 1 May - 30 June by default."""

    SCHEDULED = "scheduled"  # the window has not opened yet
    OPEN = "open"
    CLOSED = "closed"  # unregistered cards have lapsed


class CardLossStatus(StrEnum):
    """A lost card (挂失) and its replacement (补卡)."""

    LOST = "lost"  # reported lost: payouts to it are blocked
    REPLACEMENT_REQUESTED = "replacement_requested"
    REPLACED = "replaced"  # the bank issued a new card number


class EnrollmentKind(StrEnum):
    REGULAR = "regular"  # 集中参保
    INSTANT = "instant"  # 即时参保: after a failed enrollment, or for late members


class EnrollmentStatus(StrEnum):
    """A grassroots union's group insurance enrollment for a coverage year (seed 002)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    SECONDARY_REVIEW = "secondary_review"
    DISTRICT_REVIEW = "district_review"
    RETURNED = "returned"  # back to the clerk with the reviewer's reason
    APPROVED = "approved"  # waiting for the grassroots share to be paid
    PAID = "paid"
    FILED = "filed"  # in the district's submission to the Mutual Aid Center
    COMPLETED = "completed"  # covered
    EXPIRED = "expired"  # coverage ended
    FAILED_UNPAID = "failed_unpaid"  # not paid by the deadline: nobody covered
    CANCELLED = "cancelled"


class RosterCategory(StrEnum):
    ENROLLED = "enrolled"
    AWAITING = "awaiting"  # no social insurance: the clerk must confirm
    NO_CARD = "no_card"  # no valid card (none yet, lapsed, replaced)
    RETIRED = "retired"  # retired before coverage start
    DECEASED = "deceased"
    REMOVED = "removed"  # taken off the roster by the clerk


class DistrictFilingStatus(StrEnum):
    """A district's yearly submission of its paid enrollments to the Mutual Aid Center."""

    OPEN = "open"  # gathering approved and paid enrollments
    SUBMITTED = "submitted"  # filed with the center: nothing in it changes any more
    VOUCHER_UPLOADED = "voucher_uploaded"  # payment voucher waiting for the center
    VOUCHER_REJECTED = "voucher_rejected"  # upload again
    APPROVED = "approved"  # enrollments completed


class ClaimKind(StrEnum):
    CRITICAL_ILLNESS = "critical_illness"
    ACCIDENTAL_DISABILITY = "accidental_disability"
    ACCIDENTAL_DEATH = "accidental_death"


class Illness(StrEnum):
    """The four critical illnesses of the programme (seed 004)."""

    MALIGNANT_TUMOUR = "malignant_tumour"  # 恶性肿瘤
    END_STAGE_RENAL = "end_stage_renal"  # 终末期肾病
    BENIGN_BRAIN_TUMOUR = "benign_brain_tumour"  # 良性脑肿瘤
    TRANSPLANT = "transplant"  # 重大器官移植术或造血干细胞移植术


class ClaimStatus(StrEnum):
    """A benefit claim (保障给付) from application to payout onto the member's card."""

    APPLIED = "applied"  # eligibility being checked
    UNDER_REVIEW = "under_review"  # at one of the review levels
    RETURNED = "returned"  # back to the clerk for more information
    REJECTED = "rejected"
    APPROVED = "approved"
    PAYOUT_PENDING = "payout_pending"  # sent to the bank, waiting for its answer
    PAYOUT_FAILED = "payout_failed"  # the card could not be paid: waits for the member's new card
    PAID = "paid"
    CLOSED = "closed"  # a return left unanswered


class ClaimLevel(StrEnum):
    GRASSROOTS = "grassroots"
    SECONDARY = "secondary"
    DISTRICT = "district"
    CENTER = "center"


class ExtensionKind(StrEnum):
    """The date of a programme year that an extension moves later."""

    PAYMENT_DEADLINE = "payment_deadline"  # a district's unions (its reviewer), or every union
    DISTRICT_WINDOW = "district_window"  # a district's submission to the Mutual Aid Center, or every district's
    SUBMISSION_WINDOW = "submission_window"  # the grassroots unions' submission window of the year
    REGISTRATION_WINDOW = "registration_window"  # the year's card registration window


# The Chinese label a person reads for each value above: messages, documents, sheets and pages
# use these (``label(value)``), never the stored code. Every member has one (tested).
LABELS: dict[type[StrEnum], dict[str, str]] = {
    OrgLevel: {"city": "市总工会", "district": "区局（产业）工会", "secondary": "二级工会", "grassroots": "基层工会"},
    GrassrootsType: {k.value: v for k, v in GRASSROOTS_TYPE_LABELS.items()},
    Role: {"clerk": "经办人", "reviewer": "审核人", "center_reviewer": "职保中心审核人", "admin": "管理员"},
    IdType: {
        "resident_id": "居民身份证",
        "passport": "护照",
        "hk_macau_permit": "港澳居民来往内地通行证",
        "taiwan_permit": "台湾居民来往大陆通行证",
        "foreigner_permit": "外国人永久居留身份证",
    },
    Gender: {"male": "男", "female": "女"},
    EmploymentStatus: {"in_service": "在职", "retired": "退休", "deceased": "死亡"},
    Affiliation: {"enterprise": "企业内", "flexible": "灵活就业", "outside": "企业外入会"},
    CardType: {"debit": "借记卡", "debit_credit": "借贷合一卡"},
    CardStatus: {
        "none": "未办卡",
        "pending": "办卡中",
        "issued": "已发卡",
        "activated": "已激活",
        "registered": "已注册",
        "lost": "已挂失",
        "replaced": "已换卡",
        "lapsed": "已失效",
    },
    ImportStatus: {"queued": "排队中", "running": "导入中", "completed": "已完成", "failed": "导入失败"},
    CardBatchStatus: {
        "pending": "待办",
        "validated": "已校验",
        "submitted": "已提交银行",
        "revocation_requested": "撤销申请审核中",
        "revoked": "已撤销",
        "bank_feedback": "银行已反馈",
        "issued": "已发卡",
        "cancelled": "已取消",
    },
    CardChannel: {"normal": "普通通道", "special": "特殊办卡通道"},
    MemberCheck: {"unchecked": "未校验", "passed": "校验通过", "failed": "校验未通过"},
    CardOutcome: {"issued": "办卡成功", "rejected": "办卡失败"},
    RegistrationStatus: {"scheduled": "注册期未开始", "open": "注册期中", "closed": "注册期已结束"},
    CardLossStatus: {"lost": "已挂失", "replacement_requested": "补卡办理中", "replaced": "已补卡"},
    EnrollmentKind: {"regular": "集中参保", "instant": "即时参保"},
    EnrollmentStatus: {
        "draft": "草稿",
        "submitted": "已提交",
        "secondary_review": "二级工会审核中",
        "district_review": "区局审核中",
        "returned": "已退回",
        "approved": "已审核",
        "paid": "已缴费",
        "filed": "已提交职保中心",
        "completed": "参保完成",
        "expired": "已到期",
        "failed_unpaid": "逾期未缴费",
        "cancelled": "已取消",
    },
    RosterCategory: {
        "enrolled": "参保",
        "awaiting": "待确认",
        "no_card": "无有效会员服务卡",
        "retired": "已退休",
        "deceased": "已死亡",
        "removed": "已移出",
    },
    DistrictFilingStatus: {
        "open": "汇总中",
        "submitted": "已提交职保中心",
        "voucher_uploaded": "缴费凭证待审核",
        "voucher_rejected": "缴费凭证被退回",
        "approved": "已审核通过",
    },
    ClaimKind: {
        "critical_illness": "重大疾病",
        "accidental_disability": "意外伤害全残",
        "accidental_death": "意外身故",
    },
    Illness: {
        "malignant_tumour": "恶性肿瘤",
        "end_stage_renal": "终末期肾病",
        "benign_brain_tumour": "良性脑肿瘤",
        "transplant": "重大器官移植术或造血干细胞移植术",
    },
    ClaimStatus: {
        "applied": "资格审查中",
        "under_review": "审核中",
        "returned": "已退回补充材料",
        "rejected": "不予给付",
        "approved": "已批准",
        "payout_pending": "付款中",
        "payout_failed": "付款失败",
        "paid": "已给付",
        "closed": "已关闭",
    },
    ExtensionKind: {
        "payment_deadline": "缴费截止日",
        "district_window": "区局提交窗口",
        "submission_window": "基层提交窗口",
        "registration_window": "卡注册窗口",
    },
    ClaimLevel: {
        "grassroots": "基层工会",
        "secondary": "二级工会",
        "district": "区局（产业）工会",
        "center": "职工保障互助中心",
    },
}

# The label of each workflow event (``workflows/machines.py``), as a refusal names what was asked.
EVENT_LABELS: dict[str, str] = {  # read after "不能": a verb phrase
    "validate": "提交系统校验",
    "edit": "修改",
    "submit": "提交",
    "cancel": "取消",
    "request_revocation": "申请撤销",
    "approve_revocation": "同意撤销",
    "reject_revocation": "驳回撤销申请",
    "bank_feedback": "接收银行反馈",
    "complete": "完成",
    "open": "开始注册",
    "register": "注册",
    "close": "关闭",
    "request_replacement": "申请补卡",
    "replaced": "登记新卡号",
    "reopen": "重新打开",
    "to_secondary": "送二级工会审核",
    "to_district": "送区局审核",
    "secondary_approve": "审核通过",
    "district_approve": "审核通过",
    "return_": "退回",
    "pay": "缴费",
    "fail_unpaid": "按逾期未缴费结束",
    "file": "提交职保中心",
    "expire": "结束保障",
    "upload_voucher": "上传缴费凭证",
    "approve_voucher": "通过缴费凭证",
    "reject_voucher": "退回缴费凭证",
    "eligible": "通过资格审查",
    "ineligible": "按资格不符结束",
    "approve_level": "审核通过",
    "approve": "审核通过",
    "reject": "作不予给付决定",
    "resubmit": "补充材料后重新提交",
    "paid": "确认给付",
    "payout_failed": "记录付款失败",
}


def label(value: StrEnum) -> str:
    """The Chinese label of an enum member (its code when it has none yet)."""
    return LABELS.get(type(value), {}).get(value.value, value.value)


def label_of(enum: type[StrEnum], code: str) -> str:
    """The Chinese label of a stored code of ``enum``; a code that is not one is shown as given."""
    return LABELS.get(enum, {}).get(str(code), str(code))


def event_label(event: str) -> str:
    return EVENT_LABELS.get(event, event)


# The statuses of each kind of workflow-driven record, by its entity type (audit rows, refusals).
STATUSES = {
    "card_batch": CardBatchStatus,
    "registration": RegistrationStatus,
    "card_loss": CardLossStatus,
    "enrollment": EnrollmentStatus,
    "district_filing": DistrictFilingStatus,
    "claim": ClaimStatus,
}
