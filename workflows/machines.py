"""State machines, built from the enums of ``models/states.py`` (declared once).

Workflows keep their status as the enum's value and move only by sending machine events;
update validators ask :func:`allowed` so an illegal message never enters history.
"""

from __future__ import annotations

import functools

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from statemachine import StateMachine
    from statemachine.states import States

    from models.states import (
    STATUSES,
        CardBatchStatus,
        CardLossStatus,
        ClaimStatus,
        DistrictFilingStatus,
        EnrollmentStatus,
        RegistrationStatus,
        event_label,
        label_of,
    )


class CardBatchMachine(StateMachine):
    s = States.from_enum(
        CardBatchStatus,
        initial=CardBatchStatus.PENDING,
        final=[CardBatchStatus.ISSUED, CardBatchStatus.REVOKED, CardBatchStatus.CANCELLED],
        use_enum_instance=False,
    )
    validate = s.PENDING.to(s.VALIDATED)
    edit = s.PENDING.to.itself() | s.VALIDATED.to(s.PENDING)
    submit = s.VALIDATED.to(s.SUBMITTED)
    cancel = s.PENDING.to(s.CANCELLED) | s.VALIDATED.to(s.CANCELLED)
    request_revocation = s.SUBMITTED.to(s.REVOCATION_REQUESTED)
    approve_revocation = s.REVOCATION_REQUESTED.to(s.REVOKED)
    reject_revocation = s.REVOCATION_REQUESTED.to(s.SUBMITTED)
    bank_feedback = (
        s.SUBMITTED.to(s.BANK_FEEDBACK) | s.REVOCATION_REQUESTED.to(s.BANK_FEEDBACK) | s.BANK_FEEDBACK.to.itself()
    )
    complete = s.BANK_FEEDBACK.to(s.ISSUED)


class RegistrationMachine(StateMachine):
    s = States.from_enum(
        RegistrationStatus, initial=RegistrationStatus.SCHEDULED, final=[RegistrationStatus.CLOSED],
        use_enum_instance=False,
    )  # fmt: skip
    open = s.SCHEDULED.to(s.OPEN)
    register = s.OPEN.to.itself()
    close = s.OPEN.to(s.CLOSED)


class CardLossMachine(StateMachine):
    s = States.from_enum(
        CardLossStatus, initial=CardLossStatus.LOST, final=[CardLossStatus.REPLACED], use_enum_instance=False
    )
    request_replacement = s.LOST.to(s.REPLACEMENT_REQUESTED)
    replaced = s.REPLACEMENT_REQUESTED.to(s.REPLACED) | s.LOST.to(s.REPLACED)


class EnrollmentMachine(StateMachine):
    s = States.from_enum(
        EnrollmentStatus,
        initial=EnrollmentStatus.DRAFT,
        final=[EnrollmentStatus.EXPIRED, EnrollmentStatus.FAILED_UNPAID, EnrollmentStatus.CANCELLED],
        use_enum_instance=False,
    )
    edit = s.DRAFT.to.itself() | s.RETURNED.to(s.DRAFT)
    # confirming a member after submission takes the enrollment back to the clerk (submit again)
    reopen = s.SUBMITTED.to(s.DRAFT) | s.SECONDARY_REVIEW.to(s.DRAFT) | s.DISTRICT_REVIEW.to(s.DRAFT)
    submit = s.DRAFT.to(s.SUBMITTED) | s.RETURNED.to(s.SUBMITTED)
    to_secondary = s.SUBMITTED.to(s.SECONDARY_REVIEW)
    to_district = s.SUBMITTED.to(s.DISTRICT_REVIEW)
    secondary_approve = s.SECONDARY_REVIEW.to(s.DISTRICT_REVIEW)
    district_approve = s.DISTRICT_REVIEW.to(s.APPROVED)
    return_ = s.SECONDARY_REVIEW.to(s.RETURNED) | s.DISTRICT_REVIEW.to(s.RETURNED)
    pay = s.APPROVED.to(s.PAID)
    fail_unpaid = (
        s.DRAFT.to(s.FAILED_UNPAID)
        | s.RETURNED.to(s.FAILED_UNPAID)
        | s.SUBMITTED.to(s.FAILED_UNPAID)
        | s.SECONDARY_REVIEW.to(s.FAILED_UNPAID)
        | s.DISTRICT_REVIEW.to(s.FAILED_UNPAID)
        | s.APPROVED.to(s.FAILED_UNPAID)
    )
    file = s.PAID.to(s.FILED)
    complete = s.FILED.to(s.COMPLETED) | s.PAID.to(s.COMPLETED)  # the latter: instant enrollment
    expire = s.COMPLETED.to(s.EXPIRED) | s.PAID.to(s.EXPIRED) | s.FILED.to(s.EXPIRED)
    cancel = s.DRAFT.to(s.CANCELLED) | s.RETURNED.to(s.CANCELLED)


class DistrictFilingMachine(StateMachine):
    s = States.from_enum(
        DistrictFilingStatus,
        initial=DistrictFilingStatus.OPEN,
        final=[DistrictFilingStatus.APPROVED],
        use_enum_instance=False,
    )
    submit = s.OPEN.to(s.SUBMITTED)
    upload_voucher = s.SUBMITTED.to(s.VOUCHER_UPLOADED) | s.VOUCHER_REJECTED.to(s.VOUCHER_UPLOADED)
    approve_voucher = s.VOUCHER_UPLOADED.to(s.APPROVED)
    reject_voucher = s.VOUCHER_UPLOADED.to(s.VOUCHER_REJECTED)


class ClaimMachine(StateMachine):
    s = States.from_enum(
        ClaimStatus,
        initial=ClaimStatus.APPLIED,
        final=[ClaimStatus.REJECTED, ClaimStatus.PAID, ClaimStatus.CLOSED],
        use_enum_instance=False,
    )
    eligible = s.APPLIED.to(s.UNDER_REVIEW)
    ineligible = s.APPLIED.to(s.REJECTED)
    approve_level = s.UNDER_REVIEW.to.itself()  # to the next level
    approve = s.UNDER_REVIEW.to(s.APPROVED)  # the last level
    return_ = s.UNDER_REVIEW.to(s.RETURNED)
    reject = s.UNDER_REVIEW.to(s.REJECTED)
    resubmit = s.RETURNED.to(s.APPLIED)
    close = s.RETURNED.to(s.CLOSED)
    pay = s.APPROVED.to(s.PAYOUT_PENDING) | s.PAYOUT_FAILED.to(s.PAYOUT_PENDING)
    paid = s.PAYOUT_PENDING.to(s.PAID)
    payout_failed = s.APPROVED.to(s.PAYOUT_FAILED) | s.PAYOUT_PENDING.to(s.PAYOUT_FAILED)


MACHINES: dict[str, type[StateMachine]] = {
    "card_batch": CardBatchMachine,
    "registration": RegistrationMachine,
    "card_loss": CardLossMachine,
    "enrollment": EnrollmentMachine,
    "district_filing": DistrictFilingMachine,
    "claim": ClaimMachine,
}




def refusal_text(status: str, event: str, machine: str = "card_batch", subject: str = "") -> str:
    """A refusal a clerk reads: the state and what was asked, by their Chinese labels."""
    return f"{subject}当前状态为“{label_of(STATUSES[machine], status)}”，不能{event_label(event)}"


def allowed(status: str, machine: str = "card_batch") -> list[str]:
    """The events a workflow of ``machine`` in ``status`` accepts."""
    return list(_allowed(status, machine))


def fire(status: str, event: str, machine: str = "card_batch") -> str:
    """The status after ``event``; raises TransitionNotAllowed when it is not allowed."""
    return _fire(status, event, machine)


# A machine's answers depend on nothing but (machine, status, event): building a machine costs
# about a millisecond, and validators ask on every update, so each answer is worked out once.
@functools.cache
def _allowed(status: str, machine: str) -> tuple[str, ...]:
    return tuple(e.id for e in MACHINES[machine](start_value=status).allowed_events)


@functools.cache
def _fire(status: str, event: str, machine: str) -> str:
    sm = MACHINES[machine](start_value=status)
    sm.send(event)
    return str(sm.current_state_value)
