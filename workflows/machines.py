"""State machines, built from the enums of ``models/states.py`` (declared once).

Workflows keep their status as the enum's value and move only by sending machine events;
update validators ask :func:`allowed` so an illegal message never enters history.
"""

from __future__ import annotations

from temporalio import workflow

from models.states import CardBatchStatus

with workflow.unsafe.imports_passed_through():
    from statemachine import StateMachine
    from statemachine.states import States


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


def allowed(status: str) -> list[str]:
    """The events a card batch in ``status`` accepts."""
    return [e.id for e in CardBatchMachine(start_value=status).allowed_events]


def fire(status: str, event: str) -> str:
    """The status after ``event``; raises TransitionNotAllowed when it is not allowed."""
    machine = CardBatchMachine(start_value=status)
    machine.send(event)
    return str(machine.current_state_value)
