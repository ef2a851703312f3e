"""The enrollment workflow's messages: what it is started with, what clerks, reviewers, the
district and its activities send and answer (a module of their own, passed through the sandbox:
defined once per worker, not once per workflow run)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common import ActorRef


def enrollment_workflow_id(org_code: str, year: int, kind: str = "regular", enrollment_id: int = 0) -> str:
    if kind == "regular":
        return f"enrollment-{org_code}-{year}"
    return f"enrollment-{org_code}-{year}-instant-{enrollment_id}"


@dataclass
class EnrollmentInput:
    enrollment_id: int
    org_code: str
    org_path: str
    district_code: str
    district_org_code: str
    secondary_code: str | None
    year: int
    kind: str  # regular or instant
    submission_opens: str  # instants as ISO 8601 (UTC)
    submission_closes: str
    payment_due: str  # the end of the deadline day
    coverage_ends: str  # the end of coverage's last day
    submission_label: str = ""  # the window and deadline as the programme states them
    payment_due_label: str = ""


@dataclass
class RosterCounts:
    members_total: int = 0
    enrolled: int = 0
    awaiting_confirmation: int = 0
    no_card: int = 0
    retired: int = 0
    deceased: int = 0
    removed: int = 0


@dataclass
class RosterEdit:
    enrollment_id: int
    selection_id: int
    action: str  # confirm or remove


@dataclass
class RosterEditResult:
    changed: int = 0
    refused: list[str] = field(default_factory=list)  # member numbers, when nothing was done
    counts: RosterCounts = field(default_factory=RosterCounts)


@dataclass
class SubmitEnrollment:
    actor: ActorRef
    protection_type: str
    step: int | None = None  # the step it answers (a resubmission after a return); None: not checked


@dataclass
class PriceRequest:
    enrollment_id: int
    protection_type: str


@dataclass
class Fee:
    protection_type: str = ""
    members: int = 0
    total_fen: int = 0
    city_fen: int = 0
    district_fen: int = 0
    grassroots_fen: int = 0


@dataclass
class Payment:
    actor: ActorRef
    amount_fen: int
    reference: str
    step: int | None = None  # the step it answers; None: sent before payments named their step


@dataclass
class RecordPayment:
    enrollment_id: int
    amount_fen: int
    reference: str
    transfer_event_id: str | None = None


@dataclass
class TransferCheck:
    enrollment_id: int
    event_id: str
    expected_fen: int


@dataclass
class Coverage:
    enrollment_id: int
    instant: bool


@dataclass
class FilingNotice:
    filing_id: int


@dataclass
class EnrollmentSummary:
    enrollment_id: int
    status: str
    counts: RosterCounts
    fee: Fee
