"""SQLModel tables and API schemas. Importing this package registers every table."""

from models.account import ApiToken, SetupCode, SignInFailure, SignInLock, WebSession
from models.audit import AuditEvent
from models.card_batch import BankCallback, BatchNumberCounter, Card, CardBatch, CardBatchMember, CardBatchRequest
from models.card_lifecycle import CardLoss, CardRegistration, Registration
from models.claim import Claim, ClaimEvidence
from models.enrollment import DistrictFiling, Enrollment, EnrollmentMember, MemberSelection
from models.extension import Extension
from models.member import Member, MemberNumberCounter
from models.member_import import ImportRowError, MemberImport
from models.org import Organisation
from models.programme import DistrictFeeSplit, ProgrammeYear
from models.user import AuthFailure, User

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuthFailure",
    "BankCallback",
    "BatchNumberCounter",
    "Card",
    "CardBatch",
    "CardBatchMember",
    "CardBatchRequest",
    "CardLoss",
    "CardRegistration",
    "Claim",
    "ClaimEvidence",
    "DistrictFeeSplit",
    "DistrictFiling",
    "Enrollment",
    "EnrollmentMember",
    "Extension",
    "ImportRowError",
    "Member",
    "MemberImport",
    "MemberNumberCounter",
    "MemberSelection",
    "Organisation",
    "ProgrammeYear",
    "Registration",
    "SetupCode",
    "SignInFailure",
    "SignInLock",
    "User",
    "WebSession",
]
