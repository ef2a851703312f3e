"""The claim workflow's messages: what it is started with, what reviewers and the bank send it and
what it answers (a module of their own, passed through the sandbox: defined once per worker,
not once per workflow run)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common import ActorRef, Step


def claim_workflow_id(claim_id: int) -> str:
    return f"claim-{claim_id}"


@dataclass
class ClaimInput:
    claim_id: int
    org_code: str  # the member's grassroots union
    org_path: str
    district_code: str
    secondary_code: str | None
    applicant_id: int  # the clerk who applied never approves at the grassroots level
    return_timeout_days: int = 30


@dataclass
class ClaimDecision:
    actor: ActorRef
    decision: str  # approve, return, reject
    reason: str = ""
    step: int | None = None  # the step decided; None: sent before decisions named their step (not checked)


@dataclass
class Resubmission:
    """The clerk sends a returned claim back (an ``Act`` with the step it answers)."""

    actor: ActorRef
    reason: str | None = None
    step: int | None = None


@dataclass
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)
    amount_fen: int = 0


@dataclass
class PayoutRequest:
    claim_id: int
    attempt: int


@dataclass
class PayoutSent:
    card_no: str  # empty: the member has no card that can be paid now


@dataclass
class PayoutCallback:
    claim_id: int
    event_id: str
    attempt: int


@dataclass
class PayoutOutcome:
    outcome: str  # paid, failed, stale (an answer about an earlier attempt)
    reason: str = ""


@dataclass
class ClaimSummary:
    claim_id: int
    status: str
    level: str | None
    amount_fen: int
    reasons: list[str]
    steps: list[Step] = field(default_factory=list)  # for the API to write before it answers
