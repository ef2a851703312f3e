"""A lost card (挂失) and its replacement (补卡).

The API marks the card lost and starts this workflow; it tells the bank to block the card
(payouts to it fail from then on), waits for the clerk to ask for a replacement (or was asked
with the loss report), asks the bank for one, and applies the bank's answer: a new card number
that becomes the member's current card and keeps the old card's registration; claims whose
payout failed on the lost card are told at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import NoneType

from temporalio import workflow

from workflows.common import BANK_RETRY, Act, ActorRef, BankFile, Lifecycle, activity

with workflow.unsafe.imports_passed_through():  # the models package imports SQLModel: once per worker
    from models.states import CardLossStatus as S


def card_loss_workflow_id(card_no: str) -> str:
    return f"card-loss-{card_no}"


@dataclass
class CardLossInput:
    card_no: str
    org_code: str  # the member's union
    org_path: str
    district_code: str
    reported_by: ActorRef
    replace: bool = False  # a replacement was asked for with the loss report


@dataclass
class ApplyReplacement:
    card_no: str  # the lost card
    event_id: str  # the stored card.replaced callback


@dataclass
class CardLossSummary:
    card_no: str
    status: str
    new_card_no: str | None


@workflow.defn
class CardLossWorkflow(Lifecycle):
    machine = "card_loss"
    entity = "card_loss"

    @workflow.init
    def __init__(self, inp: CardLossInput) -> None:
        self.inp = inp
        self.status = S.LOST.value
        self.org_code = inp.org_code
        self.org_path = inp.org_path
        self.files: list[str] = []
        self.new_card_no: str | None = None

    def key(self) -> str:
        return self.inp.card_no

    @workflow.query
    def summary(self) -> CardLossSummary:
        return CardLossSummary(self.inp.card_no, self.status, self.new_card_no)

    @workflow.update
    async def request_replacement(self, act: Act) -> CardLossSummary:
        self.require_state("request_replacement")  # a concurrent request may have moved it already
        await self.move("request_replacement", act.actor, act.reason or "申请补卡")
        return self.summary()

    @request_replacement.validator
    def _check_request_replacement(self, act: Act) -> None:
        self.require("request_replacement", act.actor, "clerk", own_org=True)

    @workflow.signal
    def bank_replacement(self, file: BankFile) -> None:
        if file.event_id not in self.files:
            self.files.append(file.event_id)

    @workflow.run
    async def run(self, inp: CardLossInput) -> CardLossSummary:
        self.set_search_attributes("card_loss", inp.district_code)
        await self._bank("block_card")
        await self.note("block", None, "银行已冻结此卡，发往此卡的款项将被退回")
        if inp.replace and self.can("request_replacement"):
            await self.move("request_replacement", inp.reported_by, "挂失时申请补卡")
        await workflow.wait_condition(lambda: self.status != S.LOST or bool(self.files))
        if not self.files:
            await self._bank("request_card_replacement")
            await workflow.wait_condition(lambda: bool(self.files))
        self.new_card_no = await activity("apply_replacement", ApplyReplacement(inp.card_no, self.files[0]), str)
        await self.move("replaced", None, f"银行补发新卡 {self.new_card_no}，原卡作废")
        if workflow.patched("tell-claims-of-new-card"):  # runs started before this step skip it on replay
            await activity("tell_claims_of_new_card", inp.card_no, int)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.summary()

    async def _bank(self, name: str) -> None:
        await workflow.execute_activity(
            name,
            self.inp.card_no,
            result_type=NoneType,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=BANK_RETRY,
        )
