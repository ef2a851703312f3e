"""A grassroots union's yearly card registration (年度注册), 1 May - 30 June by default.

The workflow sleeps until the window opens, takes the clerk's registrations while it is open,
and when it closes every card of the union not registered for the year lapses. Cards are
chosen in a staged selection referred to by id: card lists never enter the history.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.common import Lifecycle, Selection, activity, sleep_until

with workflow.unsafe.imports_passed_through():  # the models package imports SQLModel: once per worker
    from models.states import RegistrationStatus as S

with workflow.unsafe.imports_passed_through():
    from workflows.dated_inputs import DateExtension, RegistrationInput


def registration_workflow_id(org_code: str, year: int) -> str:
    return f"registration-{org_code}-{year}"


@dataclass
class RegisterCards:
    registration_id: int
    selection_id: int
    actor_id: int


@dataclass
class RegisterResult:
    registered: int = 0  # cards newly registered by this request
    refused: list[str] = field(default_factory=list)  # card numbers (at most 200), when nothing was done
    refused_count: int = 0
    registered_members: int = 0  # members of the union registered for the year


@dataclass
class RegistrationCounts:
    registered: int = 0  # members with a card registered for the year
    lapsed: int = 0  # members whose current card has lapsed


@dataclass
class RegistrationSummary:
    registration_id: int
    org_code: str
    year: int
    status: str
    counts: RegistrationCounts


@workflow.defn
class RegistrationWorkflow(Lifecycle):
    machine = "registration"
    entity = "registration"

    @workflow.init
    def __init__(self, inp: RegistrationInput) -> None:
        self.inp = inp
        self.status = S.SCHEDULED.value
        self.org_code = inp.org_code
        self.org_path = inp.org_path
        self.counts = RegistrationCounts()
        self.lock = asyncio.Lock()
        self.closes_at = inp.closes_at
        self.extended = 0  # extensions taken

    def key(self) -> str:
        return str(self.inp.registration_id)

    def window(self) -> str:
        """The window's days as the clerk reads them; a run started before its input carried them
        (its instants are UTC, whose day is not the programme's) names no days."""
        if not (self.inp.opens_on and self.inp.closes_on):
            return ""
        return f"{self.inp.opens_on} 至 {self.inp.closes_on}"

    def require_state(self, event: str) -> None:
        if not self.can(event):
            when = "尚未开始" if self.status == S.SCHEDULED else "已结束"
            days = self.window()
            period = f"{self.inp.year}年度注册期为 {days}，当前{when}" if days else f"{self.inp.year}年度注册期{when}"
            raise ApplicationError(f"{period}，不能办理注册", type="not_allowed_now")

    @workflow.query
    def summary(self) -> RegistrationSummary:
        return RegistrationSummary(self.inp.registration_id, self.inp.org_code, self.inp.year, self.status, self.counts)

    @workflow.update
    async def register(self, selection: Selection) -> RegisterResult:
        async with self.lock:
            self.require_state("register")  # again under the lock: the window may have closed meanwhile
            result = await activity(
                "register_cards",
                RegisterCards(self.inp.registration_id, selection.selection_id, selection.actor.user_id),
                RegisterResult,
                minutes=10,
            )
            if result.refused_count:
                shown = "、".join(result.refused[:50]) + ("等" if result.refused_count > 50 else "")
                raise ApplicationError(
                    f"以下{result.refused_count}张卡不能注册（不存在、不属于本单位、已挂失或已换卡），本次未注册任何卡：{shown}",
                    {"card_nos": result.refused, "refused": result.refused_count},
                    type="cards_unavailable",
                )
            self.counts.registered = result.registered_members
            await self.move("register", selection.actor, f"注册{result.registered}张卡")
            return result

    @register.validator
    def _check_register(self, selection: Selection) -> None:
        self.require("register", selection.actor, "clerk", own_org=True)

    @workflow.signal
    def extend(self, ext: DateExtension) -> None:
        """An extension of the year's registration window: the window closes later, at once."""
        if ext.kind == "registration_window" and ext.until > self.closes_at:
            self.closes_at, self.inp.closes_on = ext.until, ext.label
            self.extended += 1

    async def _until_closed(self) -> None:
        """Sleep until the window closes, woken by an extension to sleep on to its new close."""
        while workflow.now() < self.closes_at:
            left = self.closes_at - workflow.now()
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(self._extended_since(self.extended), timeout=left)

    def _extended_since(self, seen: int) -> Callable[[], bool]:
        return lambda: self.extended != seen

    @workflow.run
    async def run(self, inp: RegistrationInput) -> RegistrationSummary:
        self.set_search_attributes("registration", inp.district_code)
        await sleep_until(inp.opens_at)
        await self.move("open", None, f"注册期 {self.window() or '（本年度）'} 开始")
        if workflow.patched("extensions"):  # an extension can move the close (older runs slept to a fixed one)
            await self._until_closed()
        else:
            await sleep_until(inp.closes_at)
        async with self.lock:
            self.counts = await activity(
                "lapse_unregistered_cards", inp.registration_id, RegistrationCounts, minutes=30
            )
            await self.move(
                "close", None, f"注册期结束：已注册{self.counts.registered}人，未注册失效{self.counts.lapsed}人"
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.summary()
