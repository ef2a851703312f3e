"""Stuck workflows made stuck for real, found through the admin API and the CLI, repaired, and
seen to finish: a card batch whose bank fails every call, a claim whose reviewer never answers."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bank_sim.app import Bank, BankConfig
from core.db import Database
from tests.api.helpers import call
from tests.api.test_card_batches import CLERK, member_nos, submitted_batch
from tests.api.test_card_batches import members as members  # the fixture
from tests.api.test_card_batches import until as batch_until
from tests.api.test_claims import claimant, programme_year
from tests.enrollment_setup import ADMIN

__all__ = ["members", "programme_year"]  # fixtures used here


async def cli(live_api: str, token: str, *args: str) -> str:
    """`unioncard admin ...` as an admin runs it, against the live API (served by this test's
    event loop, so the command runs without blocking it)."""
    env = {**os.environ, "UNIONCARD_TOKEN": token, "UNIONCARD_API_URL": live_api}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "admin", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def stuck(api: httpx.AsyncClient, admin: str, workflow_id: str, seconds: float = 40, **params: Any) -> Any:
    """The admin list's row for ``workflow_id`` once it matches ``params``."""
    deadline = time.monotonic() + seconds
    while True:
        page = await call(api, admin, "GET", "/admin/workflows", 200, params=params)
        rows = [r for r in page["items"] if r["workflow_id"] == workflow_id]
        if rows:
            return rows[0]
        assert time.monotonic() < deadline, page
        await asyncio.sleep(0.5)


async def test_a_batch_whose_bank_keeps_failing_is_found_retried_and_finishes(
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    bank: Bank,
    live_api: str,
    members: list[list[str]],
) -> None:
    admin = tokens[ADMIN]
    bank.config = BankConfig(delay_seconds=0.1, fail_submissions=10_000)  # the bank fails every call
    batch = await submitted_batch(api, tokens[CLERK], (await member_nos(db, members))[:3])
    workflow_id = f"card-batch-{batch['id']}"
    # Found by "has a failing activity", with the activity, its attempts and its last failure.
    row = await stuck(api, admin, workflow_id, failing="true", type="card_batch")
    (activity,) = row["pending_activities"]
    assert activity["activity_type"] == "send_batch_to_bank" and activity["attempt"] >= 2
    assert "500" in (activity["last_failure"] or "") and row["failing"] and row["status"] == "submitted"
    assert row["org_code"] == "101-S01-0001" and row["seconds_in_state"] >= 0
    # ... and by organisation subtree (the district above it), but not under another district.
    assert await stuck(api, admin, workflow_id, org="101", type="card_batch")
    other = await call(api, admin, "GET", "/admin/workflows", 200, params={"org": "104", "type": "card_batch"})
    assert workflow_id not in [r["workflow_id"] for r in other["items"]]
    listed = await cli(live_api, admin, "stuck", "--failing", "--type", "card_batch")
    line = next(x for x in listed.splitlines() if x.startswith(workflow_id))
    assert "FAILING" in line and "submitted" in line
    assert "send_batch_to_bank" in listed and "bank answered 500" in listed

    detail = await call(api, admin, "GET", f"/admin/workflows/{workflow_id}", 200)
    assert detail["history_length"] > 5 and detail["history_size_bytes"] > 0
    assert "card_batch.submit" in [h["action"] for h in detail["audit"]]
    shown = await cli(live_api, admin, "show", workflow_id)
    assert "send_batch_to_bank" in shown and "history" in shown

    # Refusals: a reason is required, a clerk cannot repair, an unknown action is named.
    body = {"action": "retry", "reason": ""}
    await call(api, admin, "POST", f"/admin/workflows/{workflow_id}/repairs", 422, json=body)
    await call(
        api, tokens[CLERK], "POST", f"/admin/workflows/{workflow_id}/repairs", 403, json={**body, "reason": "x1"}
    )
    bad = await call(
        api, admin, "POST", f"/admin/workflows/{workflow_id}/repairs", 422, json={"action": "fix", "reason": "试试"}
    )
    assert bad["error"]["code"] == "unknown_repair"

    # Paused, the activity stops retrying (and says so); unpaused, it carries on.
    repairs = f"/admin/workflows/{workflow_id}/repairs"
    await call(api, admin, "POST", repairs, 200, json={"action": "pause", "reason": "银行维护中，暂停重试"})
    paused = (await call(api, admin, "GET", f"/admin/workflows/{workflow_id}", 200))["row"]["pending_activities"][0]
    assert paused["paused"] is True
    await call(api, admin, "POST", repairs, 200, json={"action": "unpause", "reason": "维护结束"})
    resumed = (await call(api, admin, "GET", f"/admin/workflows/{workflow_id}", 200))["row"]["pending_activities"][0]
    assert resumed["paused"] is False

    # Wait until the next retry is far off, mend the bank, retry now: it finishes before then.
    while True:
        activity = (await stuck(api, admin, workflow_id, failing="true"))["pending_activities"][0]
        next_at = datetime.fromisoformat(activity["next_attempt_at"]) if activity["next_attempt_at"] else None
        if next_at and (next_at - datetime.now(UTC)).total_seconds() > 6:
            break
        await asyncio.sleep(0.5)
    bank.config = BankConfig(delay_seconds=0.1)
    out = await cli(live_api, admin, "retry", workflow_id, "--reason", "银行系统已恢复，立即重试")
    assert "action=retry" in out and "activity_type=send_batch_to_bank" in out
    await batch_until(api, tokens[CLERK], batch["id"], "issued", seconds=5)
    assert datetime.now(UTC) < next_at
    audit = (await call(api, admin, "GET", f"/admin/workflows/{workflow_id}", 200))["audit"]
    retried = [h for h in audit if h["action"] == "workflow.retry"]
    assert len(retried) == 1 and "银行系统已恢复" in retried[0]["summary"]


async def test_a_claim_nobody_reviews_is_found_by_age_and_terminated_with_a_reason(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str
) -> None:
    admin = tokens[ADMIN]
    _, clerk, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=7101)
    body = {"kind": "accidental_disability", "description": "工伤致全残", "event_date": "2020-01-01"}
    body["event_date"] = datetime.now(UTC).date().isoformat()
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    workflow_id = f"claim-{claim['id']}"
    await asyncio.sleep(2.5)  # the reviewer does not answer
    row = await stuck(api, admin, workflow_id, type="claim", stale_for="2s", org="101-S01")
    assert (row["status"], row["awaiting"]) == ("under_review", "grassroots_reviewer")
    assert row["seconds_in_state"] >= 2 and not row["failing"] and row["pending_activities"] == []
    fresh = await call(api, admin, "GET", "/admin/workflows", 200, params={"type": "claim", "stale_for": "1h"})
    assert workflow_id not in [r["workflow_id"] for r in fresh["items"]]
    bad = await call(api, admin, "GET", "/admin/workflows", 422, params={"stale_for": "soon"})
    assert bad["error"]["code"] == "invalid_duration"
    listed = await cli(live_api, admin, "stuck", "--type", "claim", "--stale-for", "2s")
    assert any(x.startswith(workflow_id) and "grassroots_reviewer" in x for x in listed.splitlines())
    shown = await cli(live_api, admin, "show", workflow_id)
    assert "claim.eligible" in shown and "under_review" in shown

    # Reset to the last good workflow task: a new run that carries on where the old one stood.
    reset = await call(
        api, admin, "POST", f"/admin/workflows/{workflow_id}/repairs", 200,
        json={"action": "reset", "reason": "演练：重置到最后一个成功的工作流任务"},
    )  # fmt: skip
    assert reset["new_run_id"] and reset["new_run_id"] != row["run_id"]
    after = await stuck(api, admin, workflow_id, type="claim", status="under_review")  # visibility catches up
    assert after["run_id"] == reset["new_run_id"] and after["awaiting"] == "grassroots_reviewer"
    out = await cli(live_api, admin, "repair", workflow_id, "terminate", "--reason", "申请人撤回，人工结案")
    assert "action=terminate" in out
    detail = await call(api, admin, "GET", f"/admin/workflows/{workflow_id}", 200)
    assert detail["row"]["execution_status"] == "terminated"
    assert any(h["action"] == "workflow.terminate" and "人工结案" in h["summary"] for h in detail["audit"])
    again = await call(
        api, admin, "POST", f"/admin/workflows/{workflow_id}/repairs", 409, json={"action": "cancel", "reason": "再试"}
    )
    assert again["error"]["code"] == "workflow_closed"
    running = await call(api, admin, "GET", "/admin/workflows", 200, params={"type": "claim"})
    assert workflow_id not in [r["workflow_id"] for r in running["items"]]
