"""A district's yearly enrollment through the service over HTTP: every grassroots union opens its
enrollment (roster built), submits, the district approves, the district files with the Mutual
Aid Center, uploads its voucher, the center approves, every enrollment `completed`.

Two districts in one run: a small one (default 100 unions x 100 members) and one ten times
larger (1,000 unions x 100 members = 100,000 members). Target: the larger costs at most 12x
the time of the smaller. Prints JSON.

Usage: python benchmarks/enrollment_district.py [--unions 1000] [--per-union 100] [--concurrency 24]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Service, peak_rss_mb, running_service

YEAR = 2090


def config(today: date) -> dict[str, Any]:
    def on(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    return {
        "plan_name": "基准测试年度会员专享基本保障计划",
        "protection_types": [{"code": "A", "name": "A类会员专享基本保障", "price": "26"}],
        "default_split": {"city": "50", "district": "50", "grassroots": "0"},
        "split_window": {"start": on(-1), "end": on(1)},
        "submission_window": {"start": on(-1), "end": on(3)},
        "payment_deadline": on(3),
        "district_window": {"start": on(-1), "end": on(5)},
        "coverage": {"start": on(10), "end": on(375)},
    }


def seed_district(conn: psycopg.Connection, code: str, unions: int, per_union: int) -> tuple[str, list[str]]:
    """A district with ``unions`` grassroots unions of ``per_union`` carded members each, a reviewer
    and one clerk per union (set-based SQL). Returns the reviewer's token and the unions' codes."""
    city = conn.execute("SELECT id, path FROM organisations WHERE level = 'city'").fetchone()
    assert city is not None
    district_id = conn.execute(
        """INSERT INTO organisations (code, name, level, parent_id, district_code, path, created_at)
           VALUES (%s, %s, 'district', %s, %s, '', now()) RETURNING id""",
        (code, f"基准区{code}总工会", city[0], code),
    ).fetchone()[0]  # type: ignore[index]
    conn.execute("UPDATE organisations SET path = %s || id || '/' WHERE id = %s", (city[1], district_id))
    conn.execute(
        """INSERT INTO organisations (code, name, level, grassroots_type, parent_id, district_code, path, created_at)
           SELECT %(c)s || '-B' || lpad(n::text, 4, '0'), '基准单位' || n || '工会委员会', 'grassroots', 'committee',
                  %(d)s, %(c)s, '', now() FROM generate_series(1, %(u)s) n""",
        {"c": code, "d": district_id, "u": unions},
    )
    conn.execute(
        "UPDATE organisations o SET path = d.path || o.id || '/' FROM organisations d "
        "WHERE d.id = %s AND o.parent_id = d.id",
        (district_id,),
    )
    conn.execute(
        """INSERT INTO members (member_no, org_id, district_code, name, id_type, id_number, id_long_term, gender,
               phone, work_address, social_insured, card_type, employment_status, affiliation, special_channel,
               card_status, card_no, created_at, updated_at)
           SELECT %(c)s || lpad(g.n::text, 7, '0'), o.id, %(c)s, '会员' || g.n, 'resident_id',
                  'B' || %(c)s || lpad(g.n::text, 9, '0'), true, 'female', '1' || %(c)s || lpad(g.n::text, 7, '0'),
                  '上海市基准区某某路一百号大楼', true, 'debit', 'in_service', 'enterprise', false, 'issued',
                  '6222' || %(c)s || lpad(g.n::text, 12, '0'), now(), now()
           FROM organisations o
           JOIN LATERAL generate_series(
               (substring(o.code from '....$')::int - 1) * %(p)s + 1, substring(o.code from '....$')::int * %(p)s
           ) AS g(n) ON true
           WHERE o.parent_id = %(d)s""",
        {"c": code, "d": district_id, "p": per_union},
    )
    conn.execute(
        """INSERT INTO cards (card_no, member_no, status, issued_at)
           SELECT card_no, member_no, 'issued', now() FROM members WHERE district_code = %s""",
        (code,),
    )
    found = conn.execute("SELECT code, id FROM organisations WHERE parent_id = %s ORDER BY code", (district_id,))
    unions_ids = [(str(r[0]), int(r[1])) for r in found]
    users = [(f"基准审核员{code}", district_id, "reviewer", _token(code))]
    users += [(f"经办人{c}", org_id, "clerk", _token(c)) for c, org_id in unions_ids]
    with conn.cursor().copy("COPY users (login, name, org_id, role, active, created_at) FROM STDIN") as copy:
        for name, org_id, role, token in users:
            copy.write_row((token.removeprefix("uc_").lower(), name, org_id, role, True, "now"))
    logins = {token.removeprefix("uc_").lower(): token for _, _, _, token in users}
    ids = conn.execute("SELECT login, id FROM users WHERE login = ANY(%s)", (list(logins),)).fetchall()
    with conn.cursor().copy("COPY api_tokens (user_id, name, token_hash, created_at) FROM STDIN") as copy:
        for login, user_id in ids:
            copy.write_row((user_id, "基准", hashlib.sha256(logins[login].encode()).hexdigest(), "now"))
    codes = [c for c, _ in unions_ids]
    conn.commit()
    return _token(code), codes


def _token(code: str) -> str:
    return f"uc_bench_{code}"


async def one_union(api: httpx.AsyncClient, code: str, reviewer: str, gate: asyncio.Semaphore) -> int:
    async with gate:
        clerk = {"Authorization": f"Bearer {_token(code)}"}
        r = await api.post(f"/orgs/{code}/enrollments", json={"year": YEAR}, headers=clerk)
        assert r.status_code == 201, r.text
        enrollment_id: int = r.json()["id"]
        submit = {"protection_type": "A", "step": r.json()["step"]}  # each decision names the step it decides
        r = await api.post(f"/enrollments/{enrollment_id}/submit", json=submit, headers=clerk)
        assert r.status_code == 200, r.text
        r = await api.post(
            f"/enrollments/{enrollment_id}/review",
            json={"approve": True, "step": r.json()["step"]},
            headers={"Authorization": f"Bearer {reviewer}"},
        )
        r.raise_for_status()
        assert r.json()["status"] == "paid", r.text
        return enrollment_id


async def run_district(
    service: Service, code: str, reviewer: str, codes: list[str], concurrency: int
) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    district = f"/districts/{code}/enrollments/{YEAR}"
    center = {"Authorization": f"Bearer {service.tokens['center_reviewer@SH']}"}
    auth = {"Authorization": f"Bearer {reviewer}"}
    async with httpx.AsyncClient(base_url=service.api_url, timeout=600) as api:
        start = time.perf_counter()
        ids = await asyncio.gather(*(one_union(api, c, reviewer, gate) for c in codes))
        unions_done = time.perf_counter() - start
        (await api.post(f"{district}/submit", headers=auth)).raise_for_status()
        files = {"file": ("voucher.pdf", b"%PDF-1.4 bench voucher", "application/pdf")}
        uploaded = await api.post(f"{district}/voucher", files=files, headers=auth)
        uploaded.raise_for_status()
        decision = {"approve": True, "step": uploaded.json()["step"]}
        (await api.post(f"{district}/voucher/decision", json=decision, headers=center)).raise_for_status()
        with psycopg.connect(service.db_url) as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FROM enrollments "
                    "WHERE district_code = %s AND year = %s",
                    (code, YEAR),
                ).fetchone()
                conn.commit()
                assert row is not None
                if row[0] == len(codes):
                    break
                await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - start
    return {"ids": ids, "wall_s": elapsed, "unions_phase_s": unions_done}


async def history_lengths(service: Service, code: str, ids: list[int], sample: int) -> tuple[float, int]:
    client = await Client.connect(service.temporal_address)
    with psycopg.connect(service.db_url) as conn:
        wids = [
            r[0] for r in conn.execute("SELECT workflow_id FROM enrollments WHERE id = ANY(%s) ORDER BY id", (ids,))
        ]
    step = max(1, len(wids) // sample)
    counts = [len([e async for e in client.get_workflow_handle(w).fetch_history_events()]) for w in wids[::step]]
    filing = client.get_workflow_handle(f"district-enrollment-{code}-{YEAR}")
    return statistics.mean(counts), len([e async for e in filing.fetch_history_events()])


def measure(service: Service, code: str, unions: int, per_union: int, concurrency: int) -> dict[str, Any]:
    with psycopg.connect(service.db_url) as conn:
        reviewer, codes = seed_district(conn, code, unions, per_union)
    run = asyncio.run(run_district(service, code, reviewer, codes, concurrency))
    per_enrollment, filing_events = asyncio.run(history_lengths(service, code, run["ids"], 50))
    members = unions * per_union
    return {
        "district": code,
        "unions": unions,
        "members": members,
        "wall_s": round(run["wall_s"], 2),
        "unions_to_paid_s": round(run["unions_phase_s"], 2),
        "history_events_per_enrollment": round(per_enrollment, 1),
        "history_events_district_filing": filing_events,
        "history_events_per_1000_members": round((per_enrollment * unions + filing_events) / members * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--unions", type=int, default=1000)
    parser.add_argument("--per-union", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=24)
    args = parser.parse_args()
    with running_service() as service:
        admin = {"Authorization": f"Bearer {service.tokens['admin@SH']}"}
        httpx.put(
            f"{service.api_url}/programme-years/{YEAR}", json=config(date.today()), headers=admin
        ).raise_for_status()
        small = measure(service, "301", max(1, args.unions // 10), args.per_union, args.concurrency)
        large = measure(service, "302", args.unions, args.per_union, args.concurrency)
        worker_rss = peak_rss_mb(service.worker.pid)
        api_rss = peak_rss_mb(service.api.pid)
    print(
        json.dumps(
            {
                "benchmark": "enrollment_district",
                "small": small,
                "large": large,
                "time_ratio_large_vs_small": round(large["wall_s"] / small["wall_s"], 2),
                "size_ratio": round(large["members"] / small["members"], 1),
                "target_time_ratio": 12,
                "worker_peak_rss_mb": worker_rss,
                "api_peak_rss_mb": api_rss,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
