"""An admin's cancel or terminate leaves the rows consistent: the row the workflow drove ends
with an audit row of who stopped it and why, and a card batch's members are free again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from core.db import Database
from rules.calendar import today
from tests.api.helpers import call, until
from tests.enrollment_setup import ADMIN, carded_members, config_around, fresh_union, put_year


def card_statuses(db: Database, nos: list[str]) -> set[str]:
    with db.connect() as conn:
        return {r[0] for r in conn.execute("SELECT card_status FROM members WHERE member_no = ANY(%s)", (nos,))}


def workflow_id(db: Database, table: str, key: int) -> str:
    with db.connect() as conn:
        row = conn.execute(f"SELECT workflow_id FROM {table} WHERE id = %s", (key,)).fetchone()
    assert row is not None
    return str(row[0])


async def repair(api: httpx.AsyncClient, tokens: dict[str, str], wf: str, action: str) -> dict[str, Any]:
    body = {"action": action, "reason": "单位撤并，人工处理"}
    done: dict[str, Any] = await call(api, tokens[ADMIN], "POST", f"/admin/workflows/{wf}/repairs", 200, json=body)
    return done


async def test_a_terminated_batch_ends_cancelled_and_its_members_can_join_another(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 3, seed=8811)
    with db.connect() as conn:  # free for a card batch
        conn.execute("UPDATE members SET card_status = 'none', card_no = NULL WHERE member_no = ANY(%s)", (nos,))
        conn.commit()
    batch = await call(api, clerk, "POST", f"/orgs/{org}/card-batches", 201, json={"bank_branch": "工行测试支行"})
    url = f"/card-batches/{batch['id']}"
    await call(api, clerk, "POST", f"{url}/members", 200, json={"member_nos": nos})
    await call(api, clerk, "POST", f"{url}/validate", 200)
    assert card_statuses(db, nos) == {"pending"}
    await repair(api, tokens, workflow_id(db, "card_batches", batch["id"]), "terminate")
    view = await call(api, clerk, "GET", url, 200)
    assert view["status"] == "cancelled" and view["actions"] == []
    last = view["history"][-1]
    assert (last["action"], last["from_state"], last["to_state"]) == ("card_batch.terminated", "validated", "cancelled")
    assert "单位撤并" in last["summary"] and "释放3名会员" in last["summary"]
    assert card_statuses(db, nos) == {"none"}
    other = await call(api, clerk, "POST", f"/orgs/{org}/card-batches", 201, json={"bank_branch": "工行测试支行"})
    joined = await call(api, clerk, "POST", f"/card-batches/{other['id']}/members", 200, json={"member_nos": nos})
    assert joined["members"] == 3


async def test_a_cancelled_enrollment_ends_cancelled_awaiting_nobody(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2083
    await put_year(api, tokens, year, config_around(today("Asia/Shanghai"), shares=("50", "50", "0")))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=8812)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    draft = await until(api, clerk, url, "draft")
    view = await call(api, clerk, "POST", f"{url}/submit", 200, json={"protection_type": "A", "step": draft["step"]})
    assert view["status"] == "district_review"
    done = await repair(api, tokens, workflow_id(db, "enrollments", e["id"]), "cancel")
    assert done["closed"] is True
    view = await call(api, clerk, "GET", url, 200)
    assert view["status"] == "cancelled"
    assert view["history"][-1]["action"] == "enrollment.cancelled"
    with db.connect() as conn:
        assert conn.execute("SELECT awaiting FROM enrollments WHERE id = %s", (e["id"],)).fetchone() == (None,)
    inbox = await call(api, tokens["reviewer@101"], "GET", "/tasks", 200)
    assert all(t.get("id") != e["id"] for t in (inbox if isinstance(inbox, list) else inbox.get("items", [])))
