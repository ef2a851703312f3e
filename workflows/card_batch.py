"""A card batch (办卡批次): gathered and checked members, sent to the bank, issued cards.

The workflow owns the batch's state and moves it only by machine events. People act through
updates whose validators refuse an illegal action before it enters history; the bank speaks
through one signal per stored callback file. Member lists never enter the history: edits are
staged in the database and referred to by id, and every set-based step is an activity.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import NoneType
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from core import search_attributes as search
from workflows.common import BANK_RETRY, DB_RETRY, ROLE_LABELS, Act, ActorRef, BankFile, Decision, reviewers_only, stale

with workflow.unsafe.imports_passed_through():  # imported once per worker, not once per workflow run
    from models.states import CardBatchStatus as S
    from workflows.card_batch_messages import (
        ApplyEdit,
        ApplyFiles,
        BatchSummary,
        CardBatchInput,
        Counts,
        EditMembers,
        EditResult,
        Transition,
        card_batch_workflow_id,
    )
    from workflows.machines import allowed, fire, refusal_text

T = TypeVar("T")
# Transitions numbered (the view shows the last one; a decision names it). Runs begun before
# number none: their step stays 0, as their view shows.
NUMBERED_STEPS = "card-batch-numbered-steps"


@workflow.defn
class CardBatchWorkflow:
    @workflow.init
    def __init__(self, inp: CardBatchInput) -> None:
        self.inp = inp
        self.status: str = S.PENDING.value
        self.batch_no: str | None = None
        self.counts = Counts()
        self.files: list[str] = []
        self.send_wanted = False
        self.overdue = False
        self.lock = asyncio.Lock()
        self.steps = 0  # transitions recorded and numbered so far: the step a decision names

    # -- queries ---------------------------------------------------------------------------
    @workflow.query
    def summary(self) -> BatchSummary:
        return BatchSummary(self.inp.batch_id, self.status, self.batch_no, self.counts)

    # -- validators ------------------------------------------------------------------------
    def _require(self, event: str, actor: ActorRef, *roles: str) -> None:
        if actor.role != "admin":
            if roles and actor.role not in roles:
                raise ApplicationError(
                    f"{ROLE_LABELS.get(actor.role, actor.role)}不能执行此操作", type="role_not_allowed"
                )
            own = actor.org_code == self.inp.org_code
            covers = self.inp.org_path.startswith(actor.org_path)
            if (actor.role == "clerk" and not own) or (actor.role != "clerk" and not covers):
                raise ApplicationError("您无权操作此批次", type="outside_scope")
        self._recheck(event)

    def _recheck(self, event: str) -> None:
        """The state again when a handler starts under the lock: an update validated together with
        another one that moved first is refused alone (409), and nothing of it is done."""
        if event not in allowed(self.status):
            raise ApplicationError(refusal_text(self.status, event, subject="批次"), type="not_allowed_now")

    @staticmethod
    def _reason(reason: str | None) -> None:
        if not reason or not reason.strip():
            raise ApplicationError("请填写理由", type="reason_required")

    # -- people ----------------------------------------------------------------------------
    @workflow.update
    async def edit_members(self, edit: EditMembers) -> EditResult:
        async with self.lock:
            self._recheck("edit")
            result = await self._activity(
                "apply_member_edit", ApplyEdit(self.inp.batch_id, edit.request_id), EditResult
            )
            if result.changed:
                self.counts = result.counts
                summary = (
                    f"加入{result.added}人，移除{result.removed}人"
                    if result.added or result.removed
                    else "会员资料已修改"
                )
                await self._move("edit", edit.actor, summary)
            return result

    @edit_members.validator
    def _check_edit(self, edit: EditMembers) -> None:
        self._require("edit", edit.actor, "clerk")

    @workflow.update
    async def validate(self, act: Act) -> Counts:
        async with self.lock:
            if self.status != S.PENDING:  # re-checked under the lock
                raise ApplicationError("批次已校验", type="not_allowed_now")
            self.counts = await self._activity("check_batch_members", self.inp.batch_id, Counts)
            if self.counts.members == 0:
                raise ApplicationError("批次中没有会员", type="batch_empty")
            await self._move("validate", act.actor, f"通过{self.counts.passed}人，未通过{self.counts.failed}人")
            return self.counts

    @validate.validator
    def _check_validate(self, act: Act) -> None:
        self._require("validate", act.actor, "clerk")

    @workflow.update
    async def submit(self, act: Act) -> BatchSummary:
        async with self.lock:
            self._recheck("submit")
            if self.counts.failed or self.counts.unchecked or not self.counts.passed:
                raise ApplicationError("请先移除未通过校验的会员", type="members_not_passed")
            self.batch_no = await self._activity("assign_batch_number", self.inp.batch_id, str)
            await self._move("submit", act.actor, f"批次号 {self.batch_no}")
            self.send_wanted = True
            return self.summary()

    @submit.validator
    def _check_submit(self, act: Act) -> None:
        self._require("submit", act.actor, "clerk")

    @workflow.update
    async def cancel(self, act: Act) -> BatchSummary:
        async with self.lock:
            self._recheck("cancel")
            await self._activity("release_batch_members", self.inp.batch_id, int)
            await self._move("cancel", act.actor, act.reason)
            return self.summary()

    @cancel.validator
    def _check_cancel(self, act: Act) -> None:
        self._require("cancel", act.actor, "clerk")

    @workflow.update
    async def request_revocation(self, act: Act) -> BatchSummary:
        async with self.lock:
            self._recheck("request_revocation")
            await self._move("request_revocation", act.actor, act.reason)
            return self.summary()

    @request_revocation.validator
    def _check_request_revocation(self, act: Act) -> None:
        self._require("request_revocation", act.actor, "clerk")

    @workflow.update
    async def decide_revocation(self, decision: Decision) -> BatchSummary:
        async with self.lock:
            if decision.step is not None:  # again, under the lock: another decision may have moved first
                self._check_decide_revocation(decision)
            if decision.approve:
                await self._activity("release_batch_members", self.inp.batch_id, int)
                await self._move("approve_revocation", decision.actor, decision.reason)
            else:
                await self._move("reject_revocation", decision.actor, decision.reason)
            return self.summary()

    @decide_revocation.validator
    def _check_decide_revocation(self, decision: Decision) -> None:
        if decision.step is not None and decision.step != self.steps:
            raise stale(self.steps)
        reviewers_only(decision.actor)
        event = "approve_revocation" if decision.approve else "reject_revocation"
        self._require(event, decision.actor, "reviewer")
        self._reason(decision.reason)

    @workflow.update
    async def resend(self, act: Act) -> BatchSummary:
        """An admin asks for the batch to be sent to the bank again (the bank deduplicates)."""
        self.send_wanted = True
        await self._project_event("resend", act.actor, act.reason)
        return self.summary()

    @resend.validator
    def _check_resend(self, act: Act) -> None:
        if act.actor.role != "admin":
            raise ApplicationError("只有管理员可以要求重新发送", type="role_not_allowed")
        if self.status not in (S.SUBMITTED, S.REVOCATION_REQUESTED, S.BANK_FEEDBACK):
            raise ApplicationError("批次尚未提交或已结束", type="not_allowed_now")
        self._reason(act.reason)

    # -- the bank --------------------------------------------------------------------------
    @workflow.signal
    def bank_file(self, file: BankFile) -> None:
        if file.event_id not in self.files:
            self.files.append(file.event_id)

    # -- the run ---------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: CardBatchInput) -> BatchSummary:
        workflow.upsert_search_attributes(
            [
                search.WORKFLOW_TYPE.value_set("card_batch"),
                search.ORG.value_set(inp.org_code),
                search.ORG_ANCESTORS.value_set(search.ancestors(inp.org_path)),
                search.DISTRICT.value_set(inp.district_code),
                search.STATUS.value_set(self.status),
                search.OVERDUE.value_set(False),
                search.LAST_TRANSITION.value_set(workflow.now()),
            ]
        )
        await workflow.wait_condition(lambda: self.status in (S.SUBMITTED, S.CANCELLED))
        deadline = timedelta(days=inp.feedback_days)
        while self.status not in (S.ISSUED, S.REVOKED, S.CANCELLED):
            if self.send_wanted:
                self.send_wanted = False
                await workflow.execute_activity(
                    "send_batch_to_bank",
                    inp.batch_id,
                    start_to_close_timeout=timedelta(seconds=30),  # also how soon a lost worker's call is retried
                    retry_policy=BANK_RETRY,
                )
            if self.files:
                await self._apply_files()
                continue
            wake = lambda: bool(self.files) or self.send_wanted or self.status in (S.REVOKED, S.ISSUED)  # noqa: E731
            if self.overdue or self.status not in (S.SUBMITTED, S.REVOCATION_REQUESTED):
                await workflow.wait_condition(wake)
                continue
            try:
                await workflow.wait_condition(wake, timeout=deadline)
            except TimeoutError:
                self.overdue = True
                workflow.upsert_search_attributes([search.OVERDUE.value_set(True)])
                await self._project_event("overdue", None, f"{inp.feedback_days}天内未收到银行反馈", overdue=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.summary()

    async def _apply_files(self) -> None:
        """Apply every file that has arrived in one activity (it audits each file); move the
        batch only when its status changes, so the history grows by files, not by members."""
        async with self.lock:
            event_ids, self.files = self.files, []
            if self.status in (S.REVOKED, S.CANCELLED, S.ISSUED):
                return
            self.counts = await self._activity("apply_bank_files", ApplyFiles(self.inp.batch_id, event_ids), Counts)
            if self.status != S.BANK_FEEDBACK and "bank_feedback" in allowed(self.status):
                lapsed = "，撤销申请随之失效" if self.status == S.REVOCATION_REQUESTED else ""
                await self._move("bank_feedback", None, f"收到银行反馈{lapsed}")
            if self.counts.outstanding == 0 and "complete" in allowed(self.status):
                await self._move(
                    "complete", None, f"所有会员均已有结果：成功{self.counts.issued}人，失败{self.counts.rejected}人"
                )

    # -- helpers ---------------------------------------------------------------------------
    async def _activity(self, name: str, arg: object, result_type: type[T]) -> T:
        return await workflow.execute_activity(  # type: ignore[no-any-return]
            name, arg, result_type=result_type, start_to_close_timeout=timedelta(minutes=2), retry_policy=DB_RETRY
        )

    async def _move(self, event: str, actor: ActorRef | None, reason: str | None) -> None:
        before = self.status
        after = fire(before, event)
        self.status = after
        workflow.upsert_search_attributes(
            [search.STATUS.value_set(after), search.LAST_TRANSITION.value_set(workflow.now())]
        )
        await self._activity(
            "record_transition",
            Transition(
                self.inp.batch_id,
                event,
                before,
                after,
                actor.user_id if actor else None,
                actor.name if actor else "system",
                reason,
                self.overdue,
                self._number(),
            ),
            NoneType,
        )

    def _number(self) -> int:
        """The next recorded transition's number (0 in runs begun before transitions were numbered)."""
        if not workflow.patched(NUMBERED_STEPS):
            return 0
        self.steps += 1
        return self.steps

    async def _project_event(
        self, event: str, actor: ActorRef | None, reason: str | None, overdue: bool | None = None
    ) -> None:
        await self._activity(
            "record_transition",
            Transition(
                self.inp.batch_id,
                event,
                self.status,
                self.status,
                actor.user_id if actor else None,
                actor.name if actor else "system",
                reason,
                overdue,
                self._number(),
            ),
            NoneType,
        )


__all__ = [
    "ApplyEdit",
    "ApplyFiles",
    "BatchSummary",
    "CardBatchInput",
    "CardBatchWorkflow",
    "Counts",
    "EditMembers",
    "EditResult",
    "Transition",
    "card_batch_workflow_id",
]
