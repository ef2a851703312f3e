"""Member import throughput: our CSV and xlsx imports through the service versus raw COPY.

Generates N realistic members (valid ID numbers, unique phones) as CSV and xlsx, imports
them over HTTP (upload -> durable workflow -> PostgreSQL), and in the same run loads the
same CSV rows with a raw psycopg COPY into a table of the same columns and unique keys.
Prints JSON. Usage: python benchmarks/import_members.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Service, peak_rss_mb, running_service
from documents.fake_members import HEADERS, member_rows, write_csv, write_xlsx


def import_file(service: Service, org: str, clerk: str, path: Path) -> tuple[float, dict[str, object]]:
    with service.client(clerk) as client:
        start = time.perf_counter()
        kind = (
            "text/csv" if path.suffix == ".csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        with path.open("rb") as f:  # streamed as the body, as `unioncard import-members` sends it
            r = client.post(
                f"/orgs/{org}/members/imports",
                params={"filename": path.name},
                content=f,
                headers={"Content-Type": kind},
            )
        r.raise_for_status()
        uploaded = time.perf_counter() - start
        view = r.json()
        while view["status"] not in ("completed", "failed"):
            view = client.get(f"/imports/{view['id']}", params={"wait": "true", "errors_limit": 0}).json()
        elapsed = time.perf_counter() - start
    if view["status"] != "completed":
        raise SystemExit(f"import failed: {view['failure']}")
    view["upload_s"] = round(uploaded, 2)
    from datetime import datetime

    created, finished = (datetime.fromisoformat(str(view[k])) for k in ("created_at", "finished_at"))
    view["workflow_s"] = round((finished - created).total_seconds(), 2)
    return elapsed, view


def raw_copy(db_url: str, path: Path) -> tuple[float, int]:
    """The baseline: the same rows read with csv and written with psycopg COPY, no validation,
    into a table of the file's columns plus a member number, with the same unique keys."""
    cols = ", ".join(f"c{i} text" for i in range(len(HEADERS)))
    id_col, phone_col = HEADERS.index("证件号码"), HEADERS.index("手机号码")
    with psycopg.connect(db_url) as conn:
        conn.execute(f"CREATE TABLE raw_members (member_no text PRIMARY KEY, {cols})")
        conn.execute(f"CREATE UNIQUE INDEX ON raw_members (c{id_col})")
        conn.execute(f"CREATE UNIQUE INDEX ON raw_members (c{phone_col})")
        conn.commit()
        start = time.perf_counter()
        count = 0
        with path.open(encoding="utf-8", newline="") as f, conn.cursor().copy("COPY raw_members FROM STDIN") as copy:
            reader = csv.reader(f)
            next(reader)
            for count, row in enumerate(reader, start=1):
                copy.write_row((f"101{count:07d}", *row))
        conn.commit()
        return time.perf_counter() - start, count


def raw_copy_members(db_url: str, import_id: int) -> tuple[float, int]:
    """A second baseline: the members the import produced, loaded again with a raw COPY into a
    table made like ``members`` (same columns, types, keys and indexes): the database's own cost
    of the registry's rows, with no parsing, validation or workflow."""
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE raw_registry (LIKE members INCLUDING ALL)")
        data = bytearray()
        with conn.cursor().copy(
            "COPY (SELECT * FROM members WHERE source_import_id = %s) TO STDOUT", (import_id,)
        ) as out:
            for block in out:
                data += block
        conn.commit()
        start = time.perf_counter()
        with conn.cursor().copy("COPY raw_registry FROM STDIN") as copy:
            copy.write(bytes(data))
        conn.commit()
        elapsed = time.perf_counter() - start
        row = conn.execute("SELECT count(*) FROM raw_registry").fetchone()
        return elapsed, int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx-rows", type=int, default=None, help="default: the same as --rows")
    args = parser.parse_args()
    xlsx_rows = args.xlsx_rows or args.rows
    work = Path(tempfile.mkdtemp(prefix="uc-bench-files-"))
    csv_path = write_csv(work / "members.csv", member_rows(args.rows, seed=1, phone_base=13_000_000_000))
    xlsx_path = write_xlsx(work / "members.xlsx", member_rows(xlsx_rows, seed=2, phone_base=15_000_000_000))
    with running_service() as service:
        ours_s, csv_view = import_file(service, "101-0001", "clerk@101-0001", csv_path)
        raw_s, raw_count = raw_copy(service.db_url, csv_path)
        registry_s, registry_count = raw_copy_members(service.db_url, int(str(csv_view["id"])))
        xlsx_s, xlsx_view = import_file(service, "104-0001", "clerk@104-0001", xlsx_path)
        worker_rss, api_rss = peak_rss_mb(service.worker.pid), peak_rss_mb(service.api.pid)
        pool_rss = max((peak_rss_mb(c.pid) for c in psutil.Process(service.worker.pid).children()), default=0.0)
    assert csv_view["accepted"] == args.rows, csv_view
    assert xlsx_view["accepted"] == xlsx_rows, xlsx_view
    ours_rate, raw_rate = args.rows / ours_s, raw_count / raw_s
    print(
        json.dumps(
            {
                "benchmark": "import_members",
                "rows": args.rows,
                "csv_import_rows_per_s": round(ours_rate),
                "raw_copy_rows_per_s": round(raw_rate),
                "csv_vs_raw_copy_ratio": round(ours_rate / raw_rate, 3),
                "target_ratio": 0.5,
                "raw_copy_registry_rows_per_s": round(registry_count / registry_s),
                "csv_vs_raw_copy_registry_ratio": round(ours_rate / (registry_count / registry_s), 3),
                "xlsx_rows": xlsx_rows,
                "xlsx_import_rows_per_s": round(xlsx_rows / xlsx_s),
                "csv_upload_s": csv_view["upload_s"],
                "csv_import_s": round(ours_s, 2),
                "csv_workflow_s": csv_view["workflow_s"],
                "worker_peak_rss_mb": worker_rss,
                "worker_import_process_peak_rss_mb": pool_rss,
                "api_peak_rss_mb": api_rss,
                "target_peak_rss_mb": 500,
                "csv_bytes": csv_path.stat().st_size,
                "xlsx_bytes": xlsx_path.stat().st_size,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
