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
