"""The baseline the card batch is measured against: one activity per member, doing for one
member what the batch's set-based activities do for all (check, outcome, card)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import psycopg

    from core.bank_signing import luhn_digit


@dataclass
class PerMemberInput:
    batch_id: int
    member_nos: list[str]  # the baseline's way: the whole list travels in the history
    parallel: int = 100


class PerMemberActivities:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    @activity.defn(name="baseline_issue_one")
    def issue_one(self, batch_id: int, member_no: str) -> str:
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute(
                "SELECT employment_status, id_long_term, id_expiry FROM members WHERE member_no = %s", (member_no,)
            ).fetchone()
            ok = row is not None and row[0] == "in_service"
            card_no = "6222" + member_no + "0000" if ok else None
            if card_no:
                card_no = card_no[:18] + luhn_digit(card_no[:18])
            conn.execute(
                'INSERT INTO card_batch_members (batch_id, member_no, "check", outcome, card_no) '
                "VALUES (%s, %s, %s, %s, %s)",
                (batch_id, member_no, "passed" if ok else "failed", "issued" if ok else None, card_no),
            )
            if card_no:
                conn.execute(
                    "INSERT INTO cards (card_no, member_no, batch_id, status, issued_at) "
                    "VALUES (%s, %s, %s, 'issued', now())",
                    (card_no, member_no, batch_id),
                )
                conn.execute("UPDATE members SET card_status = 'issued' WHERE member_no = %s", (member_no,))
            return "issued" if ok else "failed"


@workflow.defn
class PerMemberBatchWorkflow:
    @workflow.run
    async def run(self, inp: PerMemberInput) -> int:
        issued = 0
        for start in range(0, len(inp.member_nos), inp.parallel):
            results = await asyncio.gather(
                *(
                    workflow.execute_activity(
                        "baseline_issue_one", args=[inp.batch_id, n], start_to_close_timeout=timedelta(minutes=1)
                    )
                    for n in inp.member_nos[start : start + inp.parallel]
                )
            )
            issued += sum(1 for r in results if r == "issued")
        return issued
