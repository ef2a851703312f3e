"""SQLModel tables and API schemas. Importing this package registers every table."""

from models.audit import AuditEvent
from models.card_batch import BankCallback, BatchNumberCounter, Card, CardBatch, CardBatchMember, CardBatchRequest
from models.member import Member, MemberNumberCounter
from models.member_import import ImportRowError, MemberImport
from models.org import Organisation
from models.user import User

__all__ = [
    "AuditEvent",
    "BankCallback",
    "BatchNumberCounter",
    "Card",
    "CardBatch",
    "CardBatchMember",
    "CardBatchRequest",
    "ImportRowError",
    "Member",
    "MemberImport",
    "MemberNumberCounter",
    "Organisation",
    "User",
]
