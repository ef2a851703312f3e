"""What every workflow shares: who acts, the messages people send, moving a machine and
projecting the move (status, what it waits for, one audit row) through one activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import NoneType
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from core import search_attributes as search

with workflow.unsafe.imports_passed_through():  # built once per worker, not once per workflow run
    from models.states import LABELS, Role
    from workflows.machines import allowed, fire, refusal_text

T = TypeVar("T")
# Bounded retries of transient failures (a failure caused by data is never retried: see
# activities.failures). The database: 1 s, 2 s ... then every 30 s, 100 attempts, about 48
# minutes, longer than a PostgreSQL restart or failover. The bank: 2 s ... then every 10 minutes,
# 300 attempts, about 50 hours, a bank's night or weekend maintenance. After that the update or
# the workflow fails and the runbook's "a failed workflow" applies (deploy/runbook.md).
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=100
)
BANK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=300,
)


@dataclass
class ActorRef:
    """Who asks (names and ids only; no personal data)."""

    user_id: int
    name: str
    role: str
    org_code: str
    org_path: str


@dataclass
class Act:
    actor: ActorRef
    reason: str | None = None


@dataclass
class Decision:
    actor: ActorRef
    approve: bool
    reason: str
    step: int | None = None  # the step decided (see Lifecycle.check_step); None: sent before steps were named


@dataclass
class BankFile:
    event_id: str


@dataclass
class Selection:
    """A staged list of members or cards (MemberSelection) referred to by id."""

    actor: ActorRef
    selection_id: int


@dataclass
class Step:
    """One transition to project: the entity's status and what it waits for, and its audit row."""

    entity: str  # enrollment, district_filing, registration, card_loss
    key: str  # the entity's id (a card number for card_loss)
    event: str
    from_status: str
    to_status: str
    actor_id: int | None
    actor_name: str
    reason: str | None = None
    awaiting: str | None = None  # clerk, secondary_reviewer, district_reviewer, payment, center_reviewer
    awaiting_org: str | None = None  # the organisation code of whoever is awaited
    step_no: int = 0  # the workflow's n-th projected step: its audit row is written once
    at: datetime | None = None  # when the workflow made it (the audit row's time)


async def activity(name: str, arg: object, result_type: type[T], minutes: int = 2) -> T:
    return await workflow.execute_activity(  # type: ignore[no-any-return]
        name, arg, result_type=result_type, start_to_close_timeout=timedelta(minutes=minutes), retry_policy=DB_RETRY
    )


async def _write(projection: str, arg: object) -> None:
    """A projection as a local activity: a short database write in this worker, with no round trip
    through the server (and two history events instead of six)."""
    await workflow.execute_local_activity(
        projection, arg, result_type=NoneType, start_to_close_timeout=timedelta(seconds=30), retry_policy=DB_RETRY
    )


def reason_required(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise ApplicationError("请填写理由", type="reason_required")


async def sleep_until(when: datetime) -> None:
    remaining = when - workflow.now()
    if remaining > timedelta(0):
        await workflow.sleep(remaining)


CONFIRM_AFTER = timedelta(minutes=1)  # how long an answered step may wait for the workflow's own write
ROLE_LABELS = LABELS[Role]


def stale(current: int) -> ApplicationError:
    """A decision for a step that is no longer the current one (a double click, two reviewers at once)."""
    return ApplicationError("该事项已被处理，请刷新后重试", {"step": current}, type="stale_decision")


def reviewers_only(actor: ActorRef) -> None:
    """Reviewers decide; an admin repairs workflows and decides nothing."""
    if actor.role == "admin":
        raise ApplicationError("管理员负责维护流程，不能作出审核决定", type="role_not_allowed")


class Lifecycle:
    """A workflow moved by one machine: ``status``, ``require`` for validators, ``move``."""

    machine = ""
    entity = ""
    status = ""
    org_code = ""
    org_path = ""
    wakeups = 0  # handlers count up when something arrives that the run loop must look at
    steps = 0  # projected steps so far (numbers each step's audit row); a decision names it
    deciding = False  # a decision's handler is under way (see check_step)
    deciders: dict[str, int]  # who decided each level (set in the workflow's __init__ where it decides levels)
    # Steps an update answered with (the API writes them before it answers the caller) that the
    # workflow has not written itself yet: written with its next step, or after CONFIRM_AFTER.
    unconfirmed: tuple[Step, ...] = ()

    async def wait_for_news(self, within: timedelta | None) -> bool:
        """Wait until a handler counts up ``wakeups``; False when ``within`` passed first. Steps
        answered but not yet written by the workflow are written if nothing comes for a while."""
        seen = self.wakeups
        deadline = None if within is None else workflow.now() + within
        while True:
            timeout = None if deadline is None else deadline - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return False
            if self.unconfirmed:
                timeout = CONFIRM_AFTER if timeout is None else min(timeout, CONFIRM_AFTER)
            try:
                await workflow.wait_condition(lambda: self.wakeups != seen, timeout=timeout)
            except TimeoutError:
                await self.write_answered()
                continue
            return True

    def key(self) -> str:
        raise NotImplementedError

    def check_step(self, step: int | None) -> None:
        """A decision names the step it decides (the ``step`` every view shows: the last step
        written). Checked in the validator and again when its handler starts: updates delivered
        together are all validated before any handler runs. ``deciding`` is set by a handler that
        waits for an activity before it moves, so that no other decision starts meanwhile."""
        if step is not None and (step != self.steps or self.deciding):
            raise stale(self.steps)

    def check_decider(self, level: str, actor: ActorRef) -> None:
        """No account decides two levels of the same case (``deciders``: level -> user id)."""
        if any(uid == actor.user_id and other != level for other, uid in self.deciders.items()):
            raise ApplicationError("您已审核过本事项的其他级别，同一账号不能审核两个级别", type="already_decided")

    def require(self, event: str, actor: ActorRef, *roles: str, own_org: bool = False) -> None:
        """Refuse before history: the wrong role, outside the caller's scope, or a wrong state."""
        if actor.role != "admin":
            if roles and actor.role not in roles:
                label = ROLE_LABELS.get(actor.role, actor.role)
                raise ApplicationError(f"{label}不能执行此操作", type="role_not_allowed")
            own = actor.org_code == self.org_code
            covers = self.org_path.startswith(actor.org_path)
            if (own_org and not own) or not covers:
                raise ApplicationError("您无权操作此事项", type="outside_scope")
        self.require_state(event)

    def require_state(self, event: str) -> None:
        if event not in allowed(self.status, self.machine):
            raise ApplicationError(refusal_text(self.status, event, self.machine), type="not_allowed_now")

    def can(self, event: str) -> bool:
        return event in allowed(self.status, self.machine)

    def awaited(self) -> tuple[str | None, str | None]:
        """Who the workflow waits for in its current status (role, organisation code)."""
        return None, None

    async def move(self, event: str, actor: ActorRef | None, reason: str | None = None) -> None:
        """Move, and project the move before going on (a local activity)."""
        step = self._transition(event, actor, reason)
        await self._project(step)

    def move_answering(self, event: str, actor: ActorRef | None, reason: str | None = None) -> list[Step]:
        """Move without waiting for a write, for an update's answer: a local activity would hold
        the workflow task, and so the answer, until its write was done. Returns the steps the
        workflow has not written yet (this one included): the API writes them before it answers,
        and the workflow writes them again (finding them there) with its next step of its own, or
        when nothing has happened for CONFIRM_AFTER, or before it ends. Steps may thus be written
        out of order: the projection keeps the newest (see ``activities.projection``)."""
        self.unconfirmed = (*self.unconfirmed, self._transition(event, actor, reason))
        return list(self.unconfirmed)

    async def write_answered(self) -> None:
        """Write the steps answered but not written by the workflow yet."""
        if self.unconfirmed:
            steps, self.unconfirmed = list(self.unconfirmed), ()
            await _write("project_steps", steps)

    def _transition(self, event: str, actor: ActorRef | None, reason: str | None) -> Step:
        before = self.status
        if workflow.current_update_info() is not None and event not in allowed(before, self.machine):
            # An update that passed its validator together with another one that moved first: it
            # fails alone, with a code (the machine's own error would fail the workflow task forever).
            raise ApplicationError(refusal_text(before, event, self.machine), type="not_allowed_now")
        self.status = fire(before, event, self.machine)
        workflow.upsert_search_attributes(
            [
                search.STATUS.value_set(self.status),
                search.LAST_TRANSITION.value_set(workflow.now()),
                search.AWAITING.value_set(self.awaited()[0] or ""),
            ]
        )
        return self._step(event, before, actor, reason)

    async def note(self, event: str, actor: ActorRef | None, reason: str | None) -> None:
        """An audited event that leaves the status as it is."""
        await self._project(self._step(event, self.status, actor, reason))

    def _step(self, event: str, before: str, actor: ActorRef | None, reason: str | None) -> Step:
        self.steps += 1
        awaiting, awaiting_org = self.awaited()
        return Step(
            self.entity,
            self.key(),
            event,
            before,
            self.status,
            actor.user_id if actor else None,
            actor.name if actor else "system",
            reason,
            awaiting,
            awaiting_org,
            self.steps,
            workflow.now(),
        )

    async def _project(self, step: Step) -> None:
        if self.unconfirmed:  # the answered steps before this one, in the same write
            self.unconfirmed = (*self.unconfirmed, step)
            await self.write_answered()
        else:
            await _write("project_step", step)

    def set_search_attributes(self, kind: str, district_code: str) -> None:
        workflow.upsert_search_attributes(
            [
                search.WORKFLOW_TYPE.value_set(kind),
                search.ORG.value_set(self.org_code),
                search.ORG_ANCESTORS.value_set(search.ancestors(self.org_path)),
                search.OVERDUE.value_set(False),
                search.DISTRICT.value_set(district_code),
                search.STATUS.value_set(self.status),
                search.LAST_TRANSITION.value_set(workflow.now()),
                search.AWAITING.value_set(self.awaited()[0] or ""),
            ]
        )
