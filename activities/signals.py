"""Activities that talk to Temporal itself: one signal per filed enrollment, one per claim
waiting for a member's new card (a workflow that has ended since is skipped)."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.db import Database
from workflows.district_filing import FanOut
from workflows.enrollment import FilingNotice

AT_ONCE = 50  # signals in flight
CHUNK = 500  # signals between heartbeats


class SignalActivities:
    def __init__(self, db: Database, client: Client) -> None:
        self.db = db
        self.client = client

    def _workflow_ids(self, sql: str, arg: object) -> list[str]:
        with self.db.connect() as conn:
            return [r[0] for r in conn.execute(sql, (arg,))]

    async def _signal_all(self, workflow_ids: list[str], signal: str, *args: Any) -> int:
        """Signal each workflow; returns how many were running to hear it."""
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(workflow_id: str) -> int:
            async with gate:
                try:
                    await self.client.get_workflow_handle(workflow_id).signal(signal, *args)
                except RPCError as exc:
                    if exc.status != RPCStatusCode.NOT_FOUND:
                        raise
                    return 0
                return 1

        sent = 0
        for start in range(0, len(workflow_ids), CHUNK):
            sent += sum(await asyncio.gather(*(one(w) for w in workflow_ids[start : start + CHUNK])))
            activity.heartbeat(start)
        return sent

    @activity.defn(name="signal_enrollments")
    async def signal_enrollments(self, fan: FanOut) -> int:
        sql = "SELECT workflow_id FROM enrollments WHERE filing_id = %s"
        ids = await asyncio.to_thread(self._workflow_ids, sql, fan.filing_id)
        return await self._signal_all(ids, fan.signal, FilingNotice(fan.filing_id))

    @activity.defn(name="tell_claims_of_new_card")
    async def tell_claims_of_new_card(self, lost_card_no: str) -> int:
        """The card that replaced ``lost_card_no`` is the member's card now: claims whose payout
        failed try it at once instead of at their next daily check."""
        sql = """SELECT c.workflow_id FROM claims c JOIN cards k ON k.member_no = c.member_no
                 WHERE k.card_no = %s AND c.status = 'payout_failed'"""
        ids = await asyncio.to_thread(self._workflow_ids, sql, lost_card_no)
        return await self._signal_all(ids, "card_changed")
