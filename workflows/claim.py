"""A benefit claim (保障给付): eligibility, review level by level, payout onto the member's card.

Eligibility is an activity that names every reason; the amount comes from the programme year
and no reviewer changes it. Reviewers decide through updates with validators (grassroots union,
secondary union when there is one, district, Mutual Aid Center). The payout goes to the
member's current card with a payout id the bank deduplicates (``claim-<id>-<attempt>``); a new
attempt is made only after the bank has reported the previous one failed, when the member has
a new valid card, so a claim is never paid twice and a payout is never lost.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.common import BANK_RETRY, BankFile, Lifecycle, activity, reason_required, reviewers_only

with workflow.unsafe.imports_passed_through():  # imported once per worker, not once per run
    from models.states import ClaimLevel as L
    from models.states import ClaimStatus as S
    from models.states import label
    from rules.money import yuan
    from workflows.claim_messages import (
        ClaimDecision,
        ClaimInput,
        ClaimSummary,
        Eligibility,
        PayoutCallback,
        PayoutOutcome,
        PayoutRequest,
        PayoutSent,
        Resubmission,
        claim_workflow_id,
    )

LEVEL_NAMES = {level: label(level) for level in L}
FINAL = (S.REJECTED, S.PAID, S.CLOSED)
CARD_CHECK_EVERY = timedelta(days=1)  # while a payout waits for a new card
# A reviewer's answer no longer waits for the projection's write (patch id of that change).
ANSWER_BEFORE_PROJECTION = "review-answers-before-projection"


@workflow.defn
class ClaimWorkflow(Lifecycle):
    machine = "claim"
    entity = "claim"

    @workflow.init
    def __init__(self, inp: ClaimInput) -> None:
        self.inp = inp
        self.status = S.APPLIED.value
        self.org_code, self.org_path = inp.org_code, inp.org_path
        self.levels = [L.GRASSROOTS, *([L.SECONDARY] if inp.secondary_code else []), L.DISTRICT, L.CENTER]
        self.level: L = L.GRASSROOTS
        self.amount_fen = 0
        self.reasons: list[str] = []
        self.attempt = 0
        self.results: list[str] = []
        self.wakeups = 0
        self.deciders: dict[str, int] = {}  # level -> the user who decided it

    def key(self) -> str:
        return str(self.inp.claim_id)

    def awaited(self) -> tuple[str | None, str | None]:
        if self.status == S.RETURNED:
            return "clerk", self.inp.org_code
        if self.status != S.UNDER_REVIEW:
            return None, None
        org = {
            L.GRASSROOTS: self.inp.org_code,
            L.SECONDARY: self.inp.secondary_code,
            L.DISTRICT: self.inp.district_code,
        }
        return f"{self.level.value}_reviewer", org.get(self.level)

    @workflow.query
    def summary(self) -> ClaimSummary:
        level = self.level.value if self.status == S.UNDER_REVIEW else None
        return ClaimSummary(self.inp.claim_id, self.status, level, self.amount_fen, self.reasons)

    @workflow.update
    async def checked(self) -> ClaimSummary:
        """Answers once eligibility is decided: the application's HTTP answer carries the outcome
        and every reason (started together with the workflow, update-with-start)."""
        await workflow.wait_condition(lambda: self.status != S.APPLIED)
        return self.summary()

    # -- reviewers -------------------------------------------------------------------------
    @workflow.update
    async def review(self, d: ClaimDecision) -> ClaimSummary:
        if d.step is not None:  # again: a decision delivered together with this one may have moved first
            self._check_review(d)
        self.deciders[self.level.value] = d.actor.user_id
        name = LEVEL_NAMES[self.level]
        if d.decision == "return":
            event, reason = "return_", d.reason  # the reviewer's words, shown to the clerk
        elif d.decision == "reject":
            event, reason = "reject", f"{name}不予给付：{d.reason}"
        elif self.level == self.levels[-1]:
            event, reason = "approve", f"{name}审核通过，给付 {yuan(self.amount_fen)} 元"
        else:
            self.level = self.levels[self.levels.index(self.level) + 1]
            event, reason = "approve_level", f"{name}审核通过，送{LEVEL_NAMES[self.level]}"
        if not workflow.patched(ANSWER_BEFORE_PROJECTION):
            await self.move(event, d.actor, reason)  # runs begun before: the answer waited for the write
            self.wakeups += 1
            return self.summary()
        steps = self.move_answering(event, d.actor, reason)
        self.wakeups += 1
        return dataclasses.replace(self.summary(), steps=steps)

    @review.validator
    def _check_review(self, d: ClaimDecision) -> None:
        self.check_step(d.step)
        event = {"approve": "approve_level", "return": "return_", "reject": "reject"}.get(d.decision)
        if event is None:
            text = "审核结论须为 approve（通过）、return（退回）或 reject（不予给付）"
            raise ApplicationError(text, type="invalid_decision")
        if d.decision != "approve":
            reason_required(d.reason)
        reviewers_only(d.actor)
        if self.level == L.CENTER:
            self.require(event, d.actor, "center_reviewer")
        else:
            self.require(event, d.actor, "reviewer", "clerk")
            expected = {L.GRASSROOTS: self.inp.org_code, L.SECONDARY: self.inp.secondary_code}.get(
                self.level, self.inp.district_code
            )
            if d.actor.org_code != expected or (d.actor.role == "clerk" and self.level != L.GRASSROOTS):
                raise ApplicationError(f"当前由{LEVEL_NAMES[self.level]}审核", type="wrong_level")
            if d.actor.user_id == self.inp.applicant_id:
                raise ApplicationError("申请人不能审核自己提交的申请", type="own_application")
        self.check_decider(self.level.value, d.actor)

    # -- the clerk -------------------------------------------------------------------------
    @workflow.update
    async def resubmit(self, act: Resubmission) -> ClaimSummary:
        if act.step is not None:  # again: a resubmission delivered together with this one may have moved first
            self._check_resubmit(act)
        await self.move("resubmit", act.actor, act.reason or "补充材料后重新提交")
        self.wakeups += 1
        await workflow.wait_condition(lambda: self.status != S.APPLIED)  # eligibility checked again
        return self.summary()

    @resubmit.validator
    def _check_resubmit(self, act: Resubmission) -> None:
        self.check_step(act.step)
        self.require("resubmit", act.actor, "clerk", own_org=True)

    # -- the bank --------------------------------------------------------------------------
    @workflow.signal
    def payout_result(self, file: BankFile) -> None:
        if file.event_id not in self.results:
            self.results.append(file.event_id)
            self.wakeups += 1

    @workflow.signal
    def card_changed(self) -> None:
        self.wakeups += 1

    # -- the run ---------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: ClaimInput) -> ClaimSummary:
        self.set_search_attributes("claim", inp.district_code)
        while self.status not in FINAL:
            if self.status == S.APPLIED:
                await self._check()
            elif self.status == S.APPROVED and not await self._send_payout(0):
                await self.move("payout_failed", None, "会员当前没有可用的卡（已挂失或已失效），等待新卡")
            elif self.status == S.PAYOUT_PENDING and self.results:
                await self._apply_result(self.results.pop(0))
            elif self.status == S.PAYOUT_FAILED:
                await self.wait_for_news(CARD_CHECK_EVERY)  # a day, or the news of a new card
                self.results.clear()  # late answers about the failed attempt change nothing
                await self._send_payout(self.attempt + 1)
            elif self.status == S.RETURNED:
                if not await self.wait_for_news(timedelta(days=inp.return_timeout_days)):
                    await self.move("close", None, f"退回后{inp.return_timeout_days}天未补充材料，申请关闭")
            else:
                await self.wait_for_news(None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.write_answered()
        return self.summary()

    async def _check(self) -> None:
        result = await activity("check_claim", self.inp.claim_id, Eligibility)
        self.amount_fen, self.reasons = result.amount_fen, result.reasons
        if not result.eligible:
            await self.move("ineligible", None, "不符合给付条件：" + "；".join(result.reasons))
        else:
            await self.move(
                "eligible", None, f"符合给付条件，金额 {yuan(self.amount_fen)} 元，送{LEVEL_NAMES[self.level]}审核"
            )

    async def _send_payout(self, attempt: int) -> bool:
        """Pay onto the member's current card; False when there is none that can be paid (for a
        new attempt: none other than the card that failed)."""
        sent: PayoutSent = await workflow.execute_activity(
            "send_payout",
            PayoutRequest(self.inp.claim_id, attempt),
            result_type=PayoutSent,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=BANK_RETRY,
        )
        if not sent.card_no:
            return False
        self.attempt = attempt
        await self.move("pay", None, f"第{attempt + 1}次付款，付至卡号尾号 {sent.card_no[-4:]}")
        return True

    async def _apply_result(self, event_id: str) -> None:
        callback = PayoutCallback(self.inp.claim_id, event_id, self.attempt)
        outcome = await activity("apply_payout_result", callback, PayoutOutcome)
        if outcome.outcome == "paid":
            await self.move("paid", None, f"银行已付款 {yuan(self.amount_fen)} 元")
        elif outcome.outcome == "failed":
            await self.move("payout_failed", None, f"银行付款失败：{outcome.reason}，等待会员的新卡")


__all__ = [
    "ClaimDecision",
    "ClaimInput",
    "ClaimSummary",
    "ClaimWorkflow",
    "Eligibility",
    "PayoutCallback",
    "PayoutOutcome",
    "PayoutRequest",
    "PayoutSent",
    "Resubmission",
    "claim_workflow_id",
]
