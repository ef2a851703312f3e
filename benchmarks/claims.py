"""Claims through every approval level and payout over the HTTP API, and in the same run the raw
Temporal update round trip (SDK client to a trivial workflow) at the same concurrency.

Prints JSON: throughput, p50/p99 of an approval request until its state change (the HTTP
answer comes after the workflow has moved), the raw update's p50/p99, and their ratio.
Target: our approval p99 at most 2x the raw update p99.

Also, in the same run at the same concurrency, the HTTP floor: the trivial update behind the
thinnest FastAPI app in a process of its own (benchmarks/http_floor.py), which says how much of
the budget an HTTP hop in front of Temporal takes by itself on this machine.

Usage: python benchmarks/claims.py [--claims 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Service, free_port, running_service, wait_port
from benchmarks.trivial_workflow import Ping, TrivialWorkflow

ROOT = Path(__file__).resolve().parent.parent

YEAR = 2092
ORG = "101-S01-0001"
REVIEWERS = ("grassroots", "reviewer@101-S01", "reviewer@101", "center_reviewer@SH")


def config(today: date) -> dict[str, Any]:
    def on(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    return {
        "plan_name": "基准测试保障计划",
        "protection_types": [{"code": "A", "name": "A类", "price": "26"}],
        "default_split": {"city": "50", "district": "50", "grassroots": "0"},
        "split_window": {"start": on(-100), "end": on(-95)},
        "submission_window": {"start": on(-95), "end": on(-90)},
        "payment_deadline": on(-90),
        "district_window": {"start": on(-90), "end": on(-85)},
        "coverage": {"start": on(-60), "end": on(300)},
    }


def seed(conn: psycopg.Connection, claims: int, today: date) -> tuple[list[str], str]:
    """Members of ORG with registered cards and a completed enrollment covering today, plus a
    reviewer of the union (the grassroots level). Returns member numbers and that reviewer's token."""
    org_id, district = conn.execute("SELECT id, district_code FROM organisations WHERE code = %s", (ORG,)).fetchone()  # type: ignore[misc]
    conn.execute(
        """INSERT INTO members (member_no, org_id, district_code, name, id_type, id_number, id_long_term, gender,
               phone, work_address, social_insured, card_type, employment_status, affiliation, special_channel,
               card_status, card_no, created_at, updated_at)
           SELECT '1019' || lpad(n::text, 6, '0'), %s, %s, '会员' || n, 'resident_id', 'C' || lpad(n::text, 12, '0'),
                  true, 'male', '166' || lpad(n::text, 8, '0'), '上海市某区某路一百号大楼', true, 'debit', 'in_service',
                  'enterprise', false, 'registered', '62228866' || lpad(n::text, 11, '0'), now(), now()
           FROM generate_series(1, %s) n""",
        (org_id, district, claims),
    )
    conn.execute(
        """INSERT INTO cards (card_no, member_no, status, issued_at)
           SELECT card_no, member_no, 'registered', now() FROM members WHERE member_no LIKE '1019%%'"""
    )
    conn.execute(
        """INSERT INTO card_registrations (card_no, year, member_no, registered_at)
           SELECT card_no, %s, member_no, now() FROM members WHERE member_no LIKE '1019%%'""",
        (today.year,),
    )
    enrollment = conn.execute(
        """INSERT INTO enrollments (org_id, year, kind, status, district_code, members_total, enrolled,
               awaiting_confirmation, no_card, retired, deceased, removed, total_fen, city_fen, district_fen,
               grassroots_fen, coverage_start, coverage_end, workflow_id, created_by, created_at, updated_at)
           VALUES (%s, %s, 'instant', 'completed', %s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, %s, %s, 'bench', 1,
                   now(), now()) RETURNING id""",
        (org_id, YEAR, district, today - timedelta(days=60), today + timedelta(days=300)),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        """INSERT INTO enrollment_members (enrollment_id, member_no, category, confirmed)
           SELECT %s, member_no, 'enrolled', false FROM members WHERE member_no LIKE '1019%%'""",
        (enrollment,),
    )
    token = f"uc_bench_{uuid.uuid4().hex}"
    user_id = conn.execute(
        "INSERT INTO users (login, name, org_id, role, active, created_at)"
        " VALUES (%s, %s, %s, 'reviewer', true, now()) RETURNING id",
        (f"bench-{uuid.uuid4().hex[:12]}", "单位审核人", org_id),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (%s, '基准', %s, now())",
        (user_id, hashlib.sha256(token.encode()).hexdigest()),
    )
    conn.commit()
    return [f"1019{n:06d}" for n in range(1, claims + 1)], token


async def status_is(api: httpx.AsyncClient, url: str, auth: dict[str, str], status: str, every: float) -> None:
    for _ in range(int(300 / every)):
        if (await api.get(url, headers=auth)).json()["status"] == status:
            return
        await asyncio.sleep(every)
    raise SystemExit(f"{url} never reached {status}")


async def one_claim(
    api: httpx.AsyncClient, tokens: dict[str, str], member_no: str, gate: asyncio.Semaphore, lat: list[float]
) -> str:
    body = {"kind": "accidental_disability", "description": "意外致全残", "event_date": date.today().isoformat()}
    async with gate:
        clerk = {"Authorization": f"Bearer {tokens['clerk@' + ORG]}"}
        r = await api.post(f"/members/{member_no}/claims", json=body, headers=clerk)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "under_review", r.text  # the answer waits for the eligibility check
        url = f"/claims/{r.json()['id']}"
        for who in REVIEWERS:
            start = time.perf_counter()
            body = {"decision": "approve", "step": r.json()["step"]}  # the step of the claim as last seen
            r = await api.post(f"{url}/review", json=body, headers={"Authorization": f"Bearer {tokens[who]}"})
            lat.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
    return url


async def ours(service: Service, tokens: dict[str, str], members: list[str], concurrency: int) -> dict[str, Any]:
    gate, lat = asyncio.Semaphore(concurrency), list[float]()
    clerk = {"Authorization": f"Bearer {tokens['clerk@' + ORG]}"}
    async with httpx.AsyncClient(base_url=service.api_url, timeout=120) as api:
        start = time.perf_counter()
        urls = await asyncio.gather(*(one_claim(api, tokens, m, gate, lat) for m in members))
        for url in urls:  # the payouts run on meanwhile; by now most are paid
            await status_is(api, url, clerk, "paid", 0.2)
        elapsed = time.perf_counter() - start
    return {"wall_s": elapsed, "latencies": lat}


async def timed(count: int, concurrency: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    gate, lat = asyncio.Semaphore(concurrency), list[float]()

    async def one(i: int) -> None:
        async with gate:
            start = time.perf_counter()
            await call(i)
            lat.append(time.perf_counter() - start)

    await asyncio.gather(*(one(i) for i in range(count)))
    return lat


async def baselines(service: Service, count: int, concurrency: int) -> tuple[list[float], list[float]]:
    """The raw update (SDK client to a trivial workflow), then the same update behind the thinnest
    HTTP API (benchmarks/http_floor.py), each ``count`` times at ``concurrency``."""
    client = await Client.connect(service.temporal_address)
    queue = f"bench-raw-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow]):
        handles = [
            await client.start_workflow(TrivialWorkflow.run, id=f"{queue}-{i}", task_queue=queue)
            for i in range(concurrency)
        ]
        raw = await timed(
            count, concurrency, lambda i: handles[i % len(handles)].execute_update(TrivialWorkflow.ping, Ping(i))
        )
        port = free_port()
        command = ["-m", "benchmarks.http_floor", service.temporal_address, str(port), queue, str(concurrency)]
        floor_api = subprocess.Popen([sys.executable, *command], cwd=ROOT)  # noqa: ASYNC220  # before any timing
        try:
            wait_port(port)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
                (await http.post("/ping/0")).raise_for_status()  # connects its Temporal client

                async def over_http(i: int) -> None:
                    (await http.post(f"/ping/{i}")).raise_for_status()

                floor = await timed(count, concurrency, over_http)
        finally:
            floor_api.terminate()
            floor_api.wait(15)
        for h in handles:
            await h.signal(TrivialWorkflow.stop)
    return raw, floor


def pct(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1] * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with running_service({"UNIONCARD_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}) as service:
        httpx.put(f"{service.bank_url}/config", json={"delay_seconds": 0, "pay_any_card": True}).raise_for_status()
        admin = {"Authorization": f"Bearer {service.tokens['admin@SH']}"}
        httpx.put(
            f"{service.api_url}/programme-years/{YEAR}", json=config(date.today()), headers=admin
        ).raise_for_status()
        with psycopg.connect(service.db_url) as conn:
            members, grassroots = seed(conn, args.claims, date.today())
        tokens = {**service.tokens, "grassroots": grassroots}
        run = asyncio.run(ours(service, tokens, members, args.concurrency))
        raw, floor = asyncio.run(baselines(service, len(run["latencies"]), args.concurrency))
    lat = run["latencies"]
    print(
        json.dumps(
            {
                "benchmark": "claims",
                "claims": args.claims,
                "concurrency": args.concurrency,
                "wall_s": round(run["wall_s"], 2),
                "claims_per_s": round(args.claims / run["wall_s"], 2),
                "approval_p50_ms": pct(lat, 50),
                "approval_p99_ms": pct(lat, 99),
                "raw_update_p50_ms": pct(raw, 50),
                "raw_update_p99_ms": pct(raw, 99),
                "http_floor_p50_ms": pct(floor, 50),
                "http_floor_p99_ms": pct(floor, 99),
                "p99_ratio": round(pct(lat, 99) / pct(raw, 99), 2),
                "target_p99_ratio": 2,
                "http_floor_p99_ratio": round(pct(floor, 99) / pct(raw, 99), 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
