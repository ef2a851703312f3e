"""Card batch throughput: a 10,000-member batch from submission to `issued` through the service
(worker, PostgreSQL, the bank simulator answering at once over signed HTTP callbacks), and in
the same run the same number of members through a baseline of one activity per member.

Prints JSON. Usage: python benchmarks/card_batch.py [--members 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baseline_per_member import PerMemberActivities, PerMemberBatchWorkflow, PerMemberInput
from benchmarks.common import Service, peak_rss_mb, running_service
from documents.fake_members import member_rows, write_csv


def import_members(service: Service, org: str, clerk: str, path: Path) -> None:
    with service.client(clerk) as client, path.open("rb") as f:
        r = client.post(
            f"/orgs/{org}/members/imports",
            params={"filename": path.name, "wait": "true"},
            content=f,
            headers={"Content-Type": "text/csv"},
        )
        r.raise_for_status()
        view = r.json()
        while view["status"] not in ("completed", "failed"):
            view = client.get(f"/imports/{view['id']}", params={"wait": "true", "errors_limit": 0}).json()
    assert view["status"] == "completed", view


def run_batch(service: Service, org: str, clerk: str) -> dict[str, Any]:
    with service.client(clerk) as client:
        batch = client.post(f"/orgs/{org}/card-batches", json={"bank_branch": "工行人民广场支行"}).json()
        url = f"/card-batches/{batch['id']}"
        client.post(f"{url}/members", json={"all_without_card": True}).raise_for_status()
        client.post(f"{url}/validate").raise_for_status()
        start = time.perf_counter()
        client.post(f"{url}/submit").raise_for_status()
        while True:
            view: dict[str, Any] = client.get(url).json()
            if view["status"] == "issued":
                break
            time.sleep(0.05)
        view["submit_to_issued_s"] = time.perf_counter() - start
        return view


async def history_events(address: str, workflow_id: str) -> int:
    client = await Client.connect(address)
    return len([e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()])


async def baseline(service: Service, members: int) -> tuple[float, int, int]:
    """One activity per member on a worker of its own, with 100 activities in flight."""
    client = await Client.connect(service.temporal_address)
    with psycopg.connect(service.db_url) as conn:
        nos = [
            r[0]
            for r in conn.execute(
                "SELECT m.member_no FROM members m JOIN organisations o ON o.id = m.org_id "
                "WHERE o.code = '104-0001' AND m.card_status = 'none' ORDER BY 1 LIMIT %s",
                (members,),
            )
        ]
        batch_id = conn.execute(
            "INSERT INTO card_batches (org_id, district_code, channel, bank_branch, status, workflow_id, created_by, "
            "members, passed, failed, issued, rejected, overdue, created_at, updated_at) "
            "SELECT id, '104', 'normal', 'baseline', 'submitted', 'baseline', 1, 0, 0, 0, 0, 0, false, now(), now() "
            "FROM organisations WHERE code = '104-0001' RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        conn.commit()
    queue = f"baseline-{uuid.uuid4().hex[:6]}"
    activities = PerMemberActivities(service.db_url)
    with ThreadPoolExecutor(max_workers=100) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[PerMemberBatchWorkflow],
            activities=[activities.issue_one],
            activity_executor=executor,
            max_concurrent_activities=100,
        ):
            start = time.perf_counter()
            handle = await client.start_workflow(
                PerMemberBatchWorkflow.run, PerMemberInput(batch_id, nos), id=f"baseline-{queue}", task_queue=queue
            )
            issued = await handle.result()
            elapsed = time.perf_counter() - start
            events = len([e async for e in handle.fetch_history_events()])
    return elapsed, issued, events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="uc-bench-batch-"))
    ours_file = write_csv(work / "a.csv", member_rows(args.members, seed=11, phone_base=13_100_000_000))
    base_file = write_csv(work / "b.csv", member_rows(args.members, seed=12, phone_base=13_300_000_000))
    with running_service() as service:
        httpx.put(f"{service.bank_url}/config", json={"delay_seconds": 0, "files": 10}).raise_for_status()
        import_members(service, "101-0001", "clerk@101-0001", ours_file)
        import_members(service, "104-0001", "clerk@104-0001", base_file)
        view = run_batch(service, "101-0001", "clerk@101-0001")
        events = asyncio.run(history_events(service.temporal_address, f"card-batch-{view['id']}"))
        worker_rss = peak_rss_mb(service.worker.pid)
        pool_rss = max((peak_rss_mb(c.pid) for c in psutil.Process(service.worker.pid).children()), default=0.0)
        base_s, base_issued, base_events = asyncio.run(baseline(service, args.members))
    assert view["issued"] == args.members, view
    ours_rate, base_rate = args.members / view["submit_to_issued_s"], base_issued / base_s
    print(
        json.dumps(
            {
                "benchmark": "card_batch",
                "members": args.members,
                "submit_to_issued_s": round(view["submit_to_issued_s"], 2),
                "members_per_s": round(ours_rate),
                "history_events": events,
                "history_events_per_1000_members": round(events / args.members * 1000, 2),
                "target_events_per_1000_members": 20,
                "baseline_one_activity_per_member_members_per_s": round(base_rate),
                "baseline_history_events": base_events,
                "throughput_vs_baseline": round(ours_rate / base_rate, 1),
                "target_throughput_vs_baseline": 20,
                "worker_peak_rss_mb": worker_rss,
                "worker_import_process_peak_rss_mb": pool_rss,
                "target_worker_rss_mb": 300,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
