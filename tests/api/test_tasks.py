"""GET /tasks pages, nearest deadline first, and gives each task its deadline, days left, age and
the step a decision on it names."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import httpx

from core.db import Database
from rules.calendar import today
from tests.api.helpers import call, decide, until
from tests.enrollment_setup import DISTRICT, carded_members, config_around, fresh_union, put_year

TODAY = today("Asia/Shanghai")


async def test_tasks_carry_their_deadline_age_and_step_and_page(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2067
    await put_year(api, tokens, year, config_around(TODAY, deadline=6))
    made = []
    for seed in (6359, 6360):
        org, clerk = await fresh_union(api, tokens, "101")
        await carded_members(api, db, clerk, org, tmp_path, 1, seed=seed)
        e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
        url = f"/enrollments/{e['id']}"
        await until(api, clerk, url, "draft")
        made.append(await decide(api, clerk, url, "/submit", 200, protection_type="A"))
    mine = [
        t
        for t in await call(api, tokens[DISTRICT], "GET", "/tasks", 200)
        if t["entity_type"] == "enrollment" and t["entity_id"] in {e["id"] for e in made}
    ]
    assert len(mine) == 2
    for task in mine:
        view = next(e for e in made if e["id"] == task["entity_id"])
        assert task["step"] == view["step"] and task["kind"] == "enrollment_review"
        assert task["kind_label"] == "集中参保待审核"  # as the workbench's inbox names it
        assert date.fromisoformat(task["deadline"]) == TODAY + timedelta(days=6) and task["days_left"] == 6
        assert task["age_seconds"] >= 0 and task["since"]
    everything = await call(api, tokens[DISTRICT], "GET", "/tasks", 200)
    deadlines = [t["deadline"] or "9999-12-31" for t in everything if t["kind"] != "retrying"]
    assert deadlines == sorted(deadlines)  # the nearest deadline first
    first = await call(api, tokens[DISTRICT], "GET", "/tasks", 200, params={"size": 1})
    second = await call(api, tokens[DISTRICT], "GET", "/tasks", 200, params={"size": 1, "page": 2})
    assert len(first) == len(second) == 1 and first[0] != second[0] and [first[0], second[0]] == everything[:2]
