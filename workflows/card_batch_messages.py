"""The card batch workflow's messages: what it is started with, what clerks and its activities
send and answer (a module of their own, passed through the sandbox: defined once per worker,
not once per workflow run)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.common import ActorRef


def card_batch_workflow_id(batch_id: int) -> str:
    return f"card-batch-{batch_id}"


@dataclass
class CardBatchInput:
    batch_id: int
    org_code: str
    org_path: str  # the batch's union in the tree, for the reviewers' scope
    feedback_days: int = 30  # no bank feedback within this: the batch is marked overdue
    district_code: str = ""


@dataclass
class EditMembers:
    actor: ActorRef
    request_id: int  # a staged CardBatchRequest


# Activity inputs and results ------------------------------------------------------------
@dataclass
class Counts:
    members: int = 0
    passed: int = 0
    failed: int = 0
    unchecked: int = 0
    issued: int = 0
    rejected: int = 0
    outstanding: int = 0  # submitted members without an outcome yet


@dataclass
class EditResult:
    added: int = 0
    removed: int = 0
    refused: list[str] = field(default_factory=list)  # member numbers, when nothing was done
    counts: Counts = field(default_factory=Counts)
    changed: bool = False  # members added or removed, or a member's data corrected


@dataclass
class Transition:
    batch_id: int
    event: str
    from_status: str
    to_status: str
    actor_id: int | None
    actor_name: str
    reason: str | None = None
    overdue: bool | None = None
    step_no: int = 0  # the batch's n-th recorded transition: its audit row is written once (0: not numbered)


@dataclass
class ApplyEdit:
    batch_id: int
    request_id: int


@dataclass
class ApplyFiles:
    batch_id: int
    event_ids: list[str]  # the bank files that arrived since the last look, applied together


@dataclass
class BatchSummary:
    batch_id: int
    status: str
    batch_no: str | None
    counts: Counts
