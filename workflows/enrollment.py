"""A grassroots union's group insurance enrollment (集中参保) for one coverage year.

The roster lives in the database; the workflow carries the enrollment's id, its fee and its
dates. People act through updates with validators (clerk: confirm, remove, submit; secondary
and district reviewers: approve or return; the district: record payment); the bank reports a
transfer by signal; the district's filing signals filed and completed. Timers fail an unpaid
enrollment at the payment deadline and expire a covered one at coverage end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.common import (
    Act,
    ActorRef,
    BankFile,
    Decision,
    Lifecycle,
    Selection,
    activity,
    reason_required,
    reviewers_only,
)

with workflow.unsafe.imports_passed_through():  # imported once per worker, not once per workflow run
    from models.states import EnrollmentStatus as S
    from rules.money import yuan
    from workflows.dated_inputs import DateExtension
    from workflows.enrollment_messages import (
        Coverage,
        EnrollmentInput,
        EnrollmentSummary,
        Fee,
        FilingNotice,
        Payment,
        PriceRequest,
        RecordPayment,
        RosterCounts,
        RosterEdit,
        RosterEditResult,
        SubmitEnrollment,
        TransferCheck,
        enrollment_workflow_id,
    )

UNPAID = (S.DRAFT, S.RETURNED, S.SUBMITTED, S.SECONDARY_REVIEW, S.DISTRICT_REVIEW, S.APPROVED)
COVERED = (S.PAID, S.FILED, S.COMPLETED)
FINAL = (S.EXPIRED, S.FAILED_UNPAID, S.CANCELLED)


@workflow.defn
class EnrollmentWorkflow(Lifecycle):
    machine = "enrollment"
    entity = "enrollment"

    @workflow.init
    def __init__(self, inp: EnrollmentInput) -> None:
        self.inp = inp
        self.status = S.DRAFT.value
        self.org_code, self.org_path = inp.org_code, inp.org_path
        self.counts = RosterCounts()
        self.fee = Fee()
        self.transfers: list[str] = []
        self.filed = False
        self.completed = False
        self.wakeups = 0
        self.ready = False
        self.deciders: dict[str, int] = {}  # level (secondary, district) -> the user who decided it
        self.opens, self.closes = (
            datetime.fromisoformat(inp.submission_opens),
            datetime.fromisoformat(inp.submission_closes),
        )
        self.payment_due, self.coverage_ends = (
            datetime.fromisoformat(inp.payment_due),
            datetime.fromisoformat(inp.coverage_ends),
        )
        self.payment_due_label, self.submission_label = inp.payment_due_label, inp.submission_label

    def key(self) -> str:
        return str(self.inp.enrollment_id)

    def awaited(self) -> tuple[str | None, str | None]:
        district = self.inp.district_org_code
        return {
            S.DRAFT: ("clerk", self.inp.org_code),
            S.RETURNED: ("clerk", self.inp.org_code),
            S.SECONDARY_REVIEW: ("secondary_reviewer", self.inp.secondary_code),
            S.DISTRICT_REVIEW: ("district_reviewer", district),
            S.APPROVED: ("payment", district),
            S.PAID: ("district_filing", district) if self.inp.kind == "regular" else (None, None),
            S.FILED: ("center_reviewer", None),
        }.get(S(self.status), (None, None))

    @workflow.query
    def summary(self) -> EnrollmentSummary:
        return EnrollmentSummary(self.inp.enrollment_id, self.status, self.counts, self.fee)

    @workflow.update
    async def roster_ready(self) -> RosterCounts:
        """Answers once the first roster is built (the API waits on it when opening an enrollment)."""
        await workflow.wait_condition(lambda: self.ready)
        return self.counts

    # -- the clerk -------------------------------------------------------------------------
    @workflow.update
    async def confirm(self, sel: Selection) -> RosterEditResult:
        result = await self._edit_roster(sel, "confirm")
        if result.changed and self.can("reopen"):
            await self.move("reopen", sel.actor, f"提交后确认了{result.changed}名会员，须重新提交")
        elif result.changed:
            await self._edited(sel.actor, f"确认{result.changed}名待确认会员")
        return result

    @confirm.validator
    def _check_confirm(self, sel: Selection) -> None:
        self.require("edit" if self.status in (S.DRAFT, S.RETURNED) else "reopen", sel.actor, "clerk", own_org=True)

    @workflow.update
    async def remove(self, sel: Selection) -> RosterEditResult:
        result = await self._edit_roster(sel, "remove")
        if result.changed:
            await self._edited(sel.actor, f"移出参保名单{result.changed}人")
        return result

    @remove.validator
    def _check_remove(self, sel: Selection) -> None:
        self.require("edit", sel.actor, "clerk", own_org=True)

    @workflow.update
    async def refresh(self, act: Act) -> RosterCounts:
        self.counts = await activity("build_roster", self.inp.enrollment_id, RosterCounts, minutes=10)
        await self._edited(act.actor, f"重新生成参保名单：参保{self.counts.enrolled}人")
        return self.counts

    @refresh.validator
    def _check_refresh(self, act: Act) -> None:
        self.require("edit", act.actor, "clerk", own_org=True)

    @workflow.update
    async def submit(self, req: SubmitEnrollment) -> EnrollmentSummary:
        if req.step is not None:  # again: a submission delivered together with this one may have moved first
            self._check_submit(req)
            self.deciding = True  # until it moves: the fee is priced first
        try:
            price = PriceRequest(self.inp.enrollment_id, req.protection_type)
            self.fee = await activity("price_enrollment", price, Fee)
        finally:
            self.deciding = False
        chosen = f"保障类型 {req.protection_type}" if req.protection_type else "保障类型按办卡时间确定"
        await self.move("submit", req.actor, f"{chosen}，参保{self.fee.members}人")
        if self.inp.secondary_code:
            await self.move("to_secondary", None, "送二级工会审核")
        else:
            await self.move("to_district", None, "送区局（产业）工会审核")
        return self.summary()

    @submit.validator
    def _check_submit(self, req: SubmitEnrollment) -> None:
        self.check_step(req.step)
        self.require("submit", req.actor, "clerk", own_org=True)
        now = workflow.now()
        if self.inp.kind == "regular" and not (self.opens <= now < self.closes):
            raise ApplicationError(
                f"集中参保提交时间为 {self.submission_label}",
                type="outside_window",
            )
        if self.counts.enrolled == 0:
            raise ApplicationError("参保名单中没有会员", type="roster_empty")

    @workflow.update
    async def cancel(self, act: Act) -> EnrollmentSummary:
        await self.move("cancel", act.actor, act.reason)
        return self.summary()

    @cancel.validator
    def _check_cancel(self, act: Act) -> None:
        self.require("cancel", act.actor, "clerk", own_org=True)

    # -- reviewers -------------------------------------------------------------------------
    @workflow.update
    async def review(self, decision: Decision) -> EnrollmentSummary:
        if decision.step is not None:  # again: a decision delivered together with this one may have moved first
            self._check_review(decision)
        self.deciders[self._level()[0]] = decision.actor.user_id
        if not decision.approve:
            await self.move("return_", decision.actor, decision.reason)
        elif self.status == S.SECONDARY_REVIEW:
            await self.move("secondary_approve", decision.actor, decision.reason or "二级工会审核通过")
        else:
            await self.move("district_approve", decision.actor, decision.reason or "区局审核通过")
            if self.fee.grassroots_fen == 0:
                await self._pay(RecordPayment(self.inp.enrollment_id, 0, "基层单位无需缴费"), None)
        self.wakeups += 1
        return self.summary()

    @review.validator
    def _check_review(self, decision: Decision) -> None:
        self.check_step(decision.step)
        reviewers_only(decision.actor)
        level, org_code = self._level()
        event = f"{level}_approve" if decision.approve else "return_"
        self.require(event, decision.actor, "reviewer")
        if decision.actor.org_code != org_code:
            raise ApplicationError("当前审核级别不是您的单位", type="wrong_level")
        if not decision.approve:
            reason_required(decision.reason)
        self.check_decider(level, decision.actor)

    def _level(self) -> tuple[str, str | None]:
        """The level under review and its organisation's code."""
        if self.status == S.SECONDARY_REVIEW:
            return "secondary", self.inp.secondary_code
        return "district", self.inp.district_org_code

    @workflow.update
    async def record_payment(self, payment: Payment) -> EnrollmentSummary:
        if payment.step is not None:  # again: a payment delivered together with this one may have moved first
            self._check_payment(payment)
            self.deciding = True  # until it moves: the payment is stored first
        try:
            await self._pay(RecordPayment(self.inp.enrollment_id, payment.amount_fen, payment.reference), payment.actor)
        finally:
            self.deciding = False
        return self.summary()

    @record_payment.validator
    def _check_payment(self, payment: Payment) -> None:
        self.check_step(payment.step)
        self.require("pay", payment.actor, "reviewer")
        if payment.actor.role != "admin" and payment.actor.org_code != self.inp.district_org_code:
            raise ApplicationError("缴费由所属区局（产业）工会登记", type="wrong_level")
        if payment.amount_fen != self.fee.grassroots_fen:
            raise ApplicationError(
                f"到账金额须等于基层单位应缴金额 {yuan(self.fee.grassroots_fen)} 元", type="amount_mismatch"
            )
        if self.inp.kind == "regular" and workflow.now() >= self.payment_due:
            raise ApplicationError(f"缴费截止日 {self.payment_due_label} 已过", type="deadline_passed")

    # -- the bank and the district ---------------------------------------------------------
    @workflow.signal
    def bank_transfer(self, file: BankFile) -> None:
        if file.event_id not in self.transfers:
            self.transfers.append(file.event_id)
            self.wakeups += 1

    @workflow.signal
    def extend(self, ext: DateExtension) -> None:
        """An extension of the payment deadline or of the submission window: taken at once (an
        earlier or equal date changes nothing; the timers are set again from the new date)."""
        if ext.kind == "payment_deadline" and ext.until > self.payment_due:
            self.payment_due, self.payment_due_label = ext.until, ext.label
        elif ext.kind == "submission_window" and ext.until > self.closes:
            self.closes, self.submission_label = ext.until, ext.label
        else:
            return
        self.wakeups += 1

    @workflow.signal
    def district_filed(self, notice: FilingNotice) -> None:
        self.filed = True
        self.wakeups += 1

    @workflow.signal
    def district_completed(self, notice: FilingNotice) -> None:
        self.completed = True
        self.wakeups += 1

    # -- the run ---------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: EnrollmentInput) -> EnrollmentSummary:
        self.set_search_attributes("enrollment", inp.district_code)
        self.counts = await activity("build_roster", inp.enrollment_id, RosterCounts, minutes=10)
        self.ready = True
        if workflow.patched("stored-transfers"):  # transfers the bank reported before this run began
            for event_id in await activity("stored_transfers", workflow.info().workflow_id, list[str]):
                if event_id not in self.transfers:
                    self.transfers.append(event_id)
        while self.status not in FINAL:
            await self._advance()
            if not await self._wait(self._deadline()):
                await self._deadline_passed()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.summary()

    async def _wait(self, deadline: datetime | None) -> bool:
        """Wait for news; False when ``deadline`` came first."""
        within = None if deadline is None else max(deadline - workflow.now(), timedelta(seconds=1))
        return await self.wait_for_news(within)

    def _deadline(self) -> datetime | None:
        if self.status in UNPAID and self.inp.kind == "regular":
            return self.payment_due
        if self.status in COVERED:
            return self.coverage_ends
        return None

    async def _deadline_passed(self) -> None:
        if self.status in UNPAID and workflow.now() >= self.payment_due:
            await self.move("fail_unpaid", None, f"缴费截止日 {self.payment_due_label} 前未缴费，参保失败")
        elif self.status in COVERED and workflow.now() >= self.coverage_ends:
            await self.move("expire", None, "保障期结束")

    async def _advance(self) -> None:
        """Act on what has arrived: transfers, the district's filing and its approval."""
        while self.transfers and self.status == S.APPROVED:
            event_id = self.transfers.pop(0)
            check = TransferCheck(self.inp.enrollment_id, event_id, self.fee.grassroots_fen)
            amount = await activity("check_transfer", check, int)
            if amount == self.fee.grassroots_fen:
                await self._pay(RecordPayment(self.inp.enrollment_id, amount, "银行转账", event_id), None)
        if self.inp.kind == "instant" and self.status == S.PAID:
            await activity("set_coverage", Coverage(self.inp.enrollment_id, True), str)
            await self.move("complete", None, "即时参保：次日起生效")
        if self.filed and self.status == S.PAID:
            await self.move("file", None, "区局已提交职保中心")
        if self.completed and self.status == S.FILED:
            await activity("set_coverage", Coverage(self.inp.enrollment_id, False), str)
            await self.move("complete", None, "缴费凭证审核通过，参保完成")

    async def _pay(self, payment: RecordPayment, actor: ActorRef | None) -> None:
        await activity("record_payment", payment, str)
        await self.move("pay", actor, f"缴费 {yuan(payment.amount_fen)} 元（{payment.reference}）")
        self.wakeups += 1

    async def _edit_roster(self, sel: Selection, action: str) -> RosterEditResult:
        result = await activity(
            "edit_roster", RosterEdit(self.inp.enrollment_id, sel.selection_id, action), RosterEditResult
        )
        if result.refused:
            label = "已确认的会员不能移除" if action == "remove" else "以下会员不在待确认名单中"
            raise ApplicationError(f"{label}：" + "、".join(result.refused[:50]), type="members_unavailable")
        self.counts = result.counts
        return result

    async def _edited(self, actor: ActorRef, summary: str) -> None:
        if self.status == S.RETURNED:
            await self.move("edit", actor, summary)
        else:
            await self.note("edit", actor, summary)


__all__ = [
    "Coverage",
    "EnrollmentInput",
    "EnrollmentSummary",
    "EnrollmentWorkflow",
    "Fee",
    "FilingNotice",
    "Payment",
    "PriceRequest",
    "RecordPayment",
    "RosterCounts",
    "RosterEdit",
    "RosterEditResult",
    "SubmitEnrollment",
    "TransferCheck",
    "enrollment_workflow_id",
]
