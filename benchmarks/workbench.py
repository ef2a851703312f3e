"""The workbench held to the API, in one run against the real processes (API, worker, Temporal,
PostgreSQL): reviewers approving claims through the pages (the form post and the page that follows
it) against the same approvals through the JSON API, at the same concurrency, alternating claim by
claim; and the inbox page of a reviewer with 1,000 open tasks against ``GET /tasks`` for the same
tasks.

Prints JSON with ``approval_p99_ratio_pages_vs_api`` (target at most 1.25) and
``inbox_p99_ratio_page_vs_api`` (target at most 2).

Usage: python benchmarks/workbench.py [--claims 200] [--concurrency 8] [--tasks 1000] [--reads 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.claims import ORG, YEAR, config, pct, seed
from benchmarks.common import Service, running_service
from core.passwords import hash_password

PASSWORD = "Bench-workbench-2026"  # noqa: S105  (the benchmark's own accounts)
LEVELS = ("grassroots", "reviewer@101-S01", "reviewer@101", "center_reviewer@SH")


def passwords(conn: psycopg.Connection, tokens: dict[str, str]) -> dict[str, str]:
    """Every reviewer gets the benchmark's password: their login names by level."""
    logins = {}
    for level in LEVELS:
        row = conn.execute(
            """SELECT u.id, u.login FROM users u JOIN api_tokens t ON t.user_id = u.id
               WHERE t.token_hash = encode(sha256(%s::bytea), 'hex')""",
            (tokens[level].encode(),),
        ).fetchone()
        assert row is not None, level
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(PASSWORD), row[0]))
        logins[level] = str(row[1])
    conn.commit()
    return logins


async def browser_session(service: Service, login: str) -> tuple[httpx.AsyncClient, str]:
    """A client signed in like a browser, and its CSRF token."""
    client = httpx.AsyncClient(base_url=service.api_url, timeout=120)
    r = await client.post("/ui/sign-in", data={"login": login, "password": PASSWORD})
    assert r.status_code == 303, r.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/")).text)
    assert found, "no CSRF token on the home page"
    return client, found.group(1)


async def approvals(
    service: Service, tokens: dict[str, str], logins: dict[str, str], members: list[str], concurrency: int
) -> tuple[list[float], list[float]]:
    """Every claim through its four levels: even claims by the pages, odd ones by the API."""
    pages: list[float] = []
    api_lat: list[float] = []
    sessions = {level: await browser_session(service, logins[level]) for level in LEVELS}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=service.api_url, timeout=120) as api:

        async def one(i: int, member_no: str) -> None:
            body = {
                "kind": "accidental_disability",
                "description": "意外致全残",
                "event_date": date.today().isoformat(),
            }
            async with gate:
                clerk = {"Authorization": f"Bearer {tokens['clerk@' + ORG]}"}
                r = await api.post(f"/members/{member_no}/claims", json=body, headers=clerk)
                assert r.status_code == 201 and r.json()["status"] == "under_review", r.text
                claim_id, step = r.json()["id"], r.json()["step"]
                for level in LEVELS:
                    if i % 2 == 0:
                        client, csrf = sessions[level]
                        form = {"csrf_token": csrf, "decision": "approve", "step": str(step)}
                        start = time.perf_counter()
                        posted = await client.post(f"/ui/claims/{claim_id}/review", data=form)  # answers the page
                        pages.append(time.perf_counter() - start)
                        assert posted.status_code == 200 and "已审核通过" in posted.text, posted.text
                        step = (await api.get(f"/claims/{claim_id}", headers=clerk)).json()["step"]  # not timed
                    else:
                        auth = {"Authorization": f"Bearer {tokens[level]}"}
                        start = time.perf_counter()
                        answer = await api.post(
                            f"/claims/{claim_id}/review", json={"decision": "approve", "step": step}, headers=auth
                        )
                        api_lat.append(time.perf_counter() - start)
                        assert answer.status_code == 200, answer.text
                        step = answer.json()["step"]

        await asyncio.gather(*(one(i, m) for i, m in enumerate(members)))
    for client, _ in sessions.values():
        await client.aclose()
    return pages, api_lat


def open_tasks(conn: psycopg.Connection, count: int) -> None:
    """``count`` claims waiting for the Mutual Aid Center (rows only: the lists read the rows)."""
    org_id = conn.execute("SELECT id FROM organisations WHERE code = %s", (ORG,)).fetchone()[0]  # type: ignore[index]
    conn.execute(
        """INSERT INTO claims (member_no, org_id, district_code, kind, hospitalised, event_date, description,
               status, awaiting, amount_fen, reasons, payout_attempt, workflow_id, created_by, created_at,
               updated_at, last_step)
           SELECT m.member_no, %s, '101', 'accidental_disability', false, current_date, '基准待办', 'under_review',
                  'center_reviewer', 3000000, '[]', 0, 'bench-task-' || m.member_no, 1,
                  now() - (n || ' minutes')::interval, now() - (n || ' minutes')::interval, 4
           FROM (SELECT member_no, row_number() OVER (ORDER BY member_no) AS n FROM members
                 WHERE member_no LIKE '1019%%') m WHERE m.n <= %s""",
        (org_id, count),
    )
    conn.commit()


async def inbox(service: Service, tokens: dict[str, str], login: str, reads: int) -> tuple[list[float], list[float]]:
    client, _ = await browser_session(service, login)
    auth = {"Authorization": f"Bearer {tokens['center_reviewer@SH']}"}
    page_lat: list[float] = []
    api_lat: list[float] = []
    async with httpx.AsyncClient(base_url=service.api_url, timeout=120) as api:
        for i in range(reads * 2):  # alternating, so both see the same machine
            start = time.perf_counter()
            if i % 2 == 0:
                r = await client.get("/ui/inbox")
                assert r.status_code == 200 and "给付申请待审核" in r.text
                page_lat.append(time.perf_counter() - start)
            else:
                r = await api.get("/tasks", params={"size": 1000}, headers=auth)
                assert r.status_code == 200 and len(r.json()) >= 1000, len(r.json())
                api_lat.append(time.perf_counter() - start)
    await client.aclose()
    return page_lat, api_lat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=100)
    args = parser.parse_args()
    with running_service({"UNIONCARD_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}) as service:
        httpx.put(f"{service.bank_url}/config", json={"delay_seconds": 0, "pay_any_card": True}).raise_for_status()
        admin = {"Authorization": f"Bearer {service.tokens['admin@SH']}"}
        httpx.put(
            f"{service.api_url}/programme-years/{YEAR}", json=config(date.today()), headers=admin
        ).raise_for_status()
        with psycopg.connect(service.db_url) as conn:
            members, grassroots = seed(conn, max(args.claims, args.tasks) + args.claims, date.today())
            tokens: dict[str, Any] = {**service.tokens, "grassroots": grassroots}
            logins = passwords(conn, tokens)
        page_lat, api_lat = asyncio.run(approvals(service, tokens, logins, members[: args.claims], args.concurrency))
        with psycopg.connect(service.db_url) as conn:
            open_tasks(conn, args.tasks)
        inbox_page, inbox_api = asyncio.run(inbox(service, tokens, logins["center_reviewer@SH"], args.reads))
    print(
        json.dumps(
            {
                "benchmark": "workbench",
                "claims": args.claims,
                "concurrency": args.concurrency,
                "approvals_by_pages": len(page_lat),
                "approvals_by_api": len(api_lat),
                "approval_pages_p50_ms": pct(page_lat, 50),
                "approval_pages_p99_ms": pct(page_lat, 99),
                "approval_api_p50_ms": pct(api_lat, 50),
                "approval_api_p99_ms": pct(api_lat, 99),
                "approval_p99_ratio_pages_vs_api": round(pct(page_lat, 99) / pct(api_lat, 99), 2),
                "target_approval_p99_ratio": 1.25,
                "open_tasks": args.tasks,
                "inbox_page_p50_ms": pct(inbox_page, 50),
                "inbox_page_p99_ms": pct(inbox_page, 99),
                "tasks_api_p50_ms": pct(inbox_api, 50),
                "tasks_api_p99_ms": pct(inbox_api, 99),
                "inbox_p99_ratio_page_vs_api": round(pct(inbox_page, 99) / pct(inbox_api, 99), 2),
                "target_inbox_p99_ratio": 2,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
