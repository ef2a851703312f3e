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

from workflows import search

with workflow.unsafe.imports_passed_through():  # built once per worker, not once per workflow run
    from workflows.machines import allowed, fire

T = TypeVar("T")
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
BANK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
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


async def activity(name: str, arg: object, result_type: type[T], minutes: int = 2) -> T:
    return await workflow.execute_activity(  # type: ignore[no-any-return]
        name, arg, result_type=result_type, start_to_close_timeout=timedelta(minutes=minutes), retry_policy=DB_RETRY
    )


def reason_required(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise ApplicationError("请填写理由", type="reason_required")


async def sleep_until(when: datetime) -> None:
    remaining = when - workflow.now()
    if remaining > timedelta(0):
        await workflow.sleep(remaining)


ROLE_LABELS = {"clerk": "经办人", "reviewer": "审核人", "center_reviewer": "互助中心审核人", "admin": "管理员"}


class Lifecycle:
    """A workflow moved by one machine: ``status``, ``require`` for validators, ``move``."""

    machine = ""
    entity = ""
    status = ""
    org_code = ""
    org_path = ""
    wakeups = 0  # handlers count up when something arrives that the run loop must look at
    steps = 0  # projected steps so far (numbers each step's audit row)

    async def wait_for_news(self, within: timedelta | None) -> bool:
        """Wait until a handler counts up ``wakeups``; False when ``within`` passed first."""
        seen = self.wakeups
        try:
            await workflow.wait_condition(lambda: self.wakeups != seen, timeout=within)
        except TimeoutError:
            return False
        return True

    def key(self) -> str:
        raise NotImplementedError

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
            raise ApplicationError(f"当前状态为 {self.status}，不能执行此操作", type="not_allowed_now")

    def can(self, event: str) -> bool:
        return event in allowed(self.status, self.machine)

    def awaited(self) -> tuple[str | None, str | None]:
        """Who the workflow waits for in its current status (role, organisation code)."""
        return None, None

    async def move(self, event: str, actor: ActorRef | None, reason: str | None = None) -> None:
        before = self.status
        self.status = fire(before, event, self.machine)
        awaiting, awaiting_org = self.awaited()
        workflow.upsert_search_attributes(
            [
                search.STATUS.value_set(self.status),
                search.LAST_TRANSITION.value_set(workflow.now()),
                search.AWAITING.value_set(awaiting or ""),
            ]
        )
        await self.project(event, before, actor, reason, awaiting, awaiting_org)

    async def note(self, event: str, actor: ActorRef | None, reason: str | None) -> None:
        """An audited event that leaves the status as it is."""
        awaiting, awaiting_org = self.awaited()
        await self.project(event, self.status, actor, reason, awaiting, awaiting_org)

    async def project(
        self,
        event: str,
        before: str,
        actor: ActorRef | None,
        reason: str | None,
        awaiting: str | None,
        awaiting_org: str | None,
    ) -> None:
        self.steps += 1
        step = Step(
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
        )
        # A local activity: the projection is a short database write in this worker, with no
        # round trip through the server (and two history events instead of six).
        await workflow.execute_local_activity(
            "project_step", step, result_type=NoneType, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
        )  # fmt: skip

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
