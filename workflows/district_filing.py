"""A district's yearly filing with the Mutual Aid Center (提交参保信息至职保中心).

Inside the district window the district reviewer files every approved and paid enrollment of
its unions; after that nothing in it changes. The district uploads a payment voucher, the
center's reviewer approves it (the enrollments complete) or rejects it with a reason (upload
again). Each filed enrollment hears of it by one signal, sent by an activity, so this
workflow's history grows by steps, not by unions.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.common import Act, Decision, Lifecycle, activity, reason_required, reviewers_only

with workflow.unsafe.imports_passed_through():  # imported once per worker, not once per workflow run
    from models.states import DistrictFilingStatus as S
    from rules.money import yuan
    from workflows.dated_inputs import DateExtension
    from workflows.district_filing_messages import (
        DistrictFilingInput,
        FanOut,
        FilingSummary,
        FilingTotals,
        district_filing_workflow_id,
    )


@workflow.defn
class DistrictFilingWorkflow(Lifecycle):
    machine = "district_filing"
    entity = "district_filing"

    @workflow.init
    def __init__(self, inp: DistrictFilingInput) -> None:
        self.inp = inp
        self.status = S.OPEN.value
        self.org_code, self.org_path = inp.district_org_code, inp.district_org_path
        self.totals = FilingTotals()
        self.opens, self.closes = datetime.fromisoformat(inp.window_opens), datetime.fromisoformat(inp.window_closes)
        self.window_label = inp.window_label

    def key(self) -> str:
        return str(self.inp.filing_id)

    def awaited(self) -> tuple[str | None, str | None]:
        return {
            S.OPEN: ("district_reviewer", self.inp.district_org_code),
            S.SUBMITTED: ("district_reviewer", self.inp.district_org_code),
            S.VOUCHER_REJECTED: ("district_reviewer", self.inp.district_org_code),
            S.VOUCHER_UPLOADED: ("center_reviewer", None),
        }.get(S(self.status), (None, None))

    @workflow.query
    def summary(self) -> FilingSummary:
        return FilingSummary(self.inp.filing_id, self.status, self.totals)

    def _district_reviewer(self, event: str, act: Act) -> None:
        self.require(event, act.actor, "reviewer")
        if act.actor.role != "admin" and act.actor.org_code != self.inp.district_org_code:
            raise ApplicationError("只有区局（产业）工会可以办理", type="wrong_level")

    @workflow.update
    async def submit(self, act: Act) -> FilingSummary:
        self.totals = await activity("file_enrollments", self.inp.filing_id, FilingTotals, minutes=10)
        if self.totals.enrollments == 0:
            raise ApplicationError("没有已审核且已缴费的参保单位", type="nothing_to_file")
        await self.move(
            "submit",
            act.actor,
            f"提交{self.totals.enrollments}家单位、{self.totals.members}人，"
            f"参保资金 {yuan(self.totals.total_fen)} 元",
        )
        await activity("signal_enrollments", FanOut(self.inp.filing_id, "district_filed"), int, minutes=30)
        return self.summary()

    @submit.validator
    def _check_submit(self, act: Act) -> None:
        self._district_reviewer("submit", act)
        if not (self.opens <= workflow.now() < self.closes):
            raise ApplicationError(f"区局提交时间为 {self.window_label}", type="outside_window")

    @workflow.signal
    def extend(self, ext: DateExtension) -> None:
        """An extension of the district's submission window, taken at once."""
        if ext.kind == "district_window" and ext.until > self.closes:
            self.closes, self.window_label = ext.until, ext.label

    @workflow.update
    async def upload_voucher(self, act: Act) -> FilingSummary:
        await self.move("upload_voucher", act.actor, act.reason or "上传缴费凭证")
        return self.summary()

    @upload_voucher.validator
    def _check_upload(self, act: Act) -> None:
        self._district_reviewer("upload_voucher", act)

    @workflow.update
    async def decide_voucher(self, decision: Decision) -> FilingSummary:
        if decision.step is not None:  # again: a decision delivered together with this one may have moved first
            self._check_decide(decision)
        if decision.approve:
            await self.move("approve_voucher", decision.actor, decision.reason or "缴费凭证审核通过")
            await activity("signal_enrollments", FanOut(self.inp.filing_id, "district_completed"), int, minutes=30)
        else:
            await self.move("reject_voucher", decision.actor, decision.reason)
        return self.summary()

    @decide_voucher.validator
    def _check_decide(self, decision: Decision) -> None:
        self.check_step(decision.step)
        reviewers_only(decision.actor)
        self.require("approve_voucher" if decision.approve else "reject_voucher", decision.actor, "center_reviewer")
        if not decision.approve:
            reason_required(decision.reason)

    @workflow.run
    async def run(self, inp: DistrictFilingInput) -> FilingSummary:
        self.set_search_attributes("district_filing", inp.district_code)
        await workflow.wait_condition(lambda: self.status == S.APPROVED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.summary()


__all__ = [
    "DistrictFilingInput",
    "DistrictFilingWorkflow",
    "FanOut",
    "FilingSummary",
    "FilingTotals",
    "district_filing_workflow_id",
]
