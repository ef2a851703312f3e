"""Member import throughput: our CSV and xlsx imports through the service versus raw COPY.

Generates N realistic members (valid ID numbers, unique phones) as CSV and xlsx, imports
them over HTTP (upload -> durable workflow -> PostgreSQL), and loads the same rows with a raw
psycopg COPY into a table of the same columns and unique keys. The machine is noisy: each round
imports a new file and copies the same rows raw right after, rounds repeat, and the ratios are
the medians of the rounds. A profile of the engine's stages on the same file follows.
Prints JSON. Usage: python benchmarks/import_members.py [--rows 100000] [--repeats 3]
                    python benchmarks/import_members.py --rows 1000000 --csv-only
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
import uuid
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
        table = f"raw_members_{uuid.uuid4().hex[:8]}"
        conn.execute(f"CREATE TABLE {table} (member_no text PRIMARY KEY, {cols})")
        conn.execute(f"CREATE UNIQUE INDEX ON {table} (c{id_col})")
        conn.execute(f"CREATE UNIQUE INDEX ON {table} (c{phone_col})")
        conn.commit()
        start = time.perf_counter()
        count = 0
        with path.open(encoding="utf-8", newline="") as f, conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            reader = csv.reader(f)
            next(reader)
            for count, row in enumerate(reader, start=1):
                copy.write_row((f"101{count:07d}", *row))
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute(f"DROP TABLE {table}")
        conn.commit()
        return elapsed, count


ORGS = ("101-0001", "104-0001", "101-S01-0001")  # the demo clerks


def stage_profile(db_url: str, path: Path) -> dict[str, float]:
    """Where an import's time goes, stage by stage on one file, in this process: reading the
    chunks, the rules (column expressions), the registry look-ups and the COPY of the rows."""
    from datetime import date

    from activities.import_chunks import COPY_COLUMNS, ChunkJob, ChunkSpec, check_chunk
    from documents.tabular import chunk_ranges, preflight

    layout = preflight(path)
    job = ChunkJob(0, 1, "101", str(path), layout.encoding, layout.delimiter, layout.positions, date.today(), "now")
    ranges = list(chunk_ranges(path, layout.encoding, layout.delimiter, layout.data_offset, 10_000))
    start = time.perf_counter()
    chunks = [check_chunk(job, ChunkSpec(a, b, 2, n)) for a, b, n in ranges]
    check_s = time.perf_counter() - start
    rows = [r for c in chunks for r in c.rows()]
    with psycopg.connect(db_url) as conn:
        start = time.perf_counter()
        for c in chunks:
            conn.execute(
                "SELECT id_number FROM members WHERE id_number = ANY(%s) UNION ALL "
                "SELECT phone FROM members WHERE phone = ANY(%s)",
                (c.ids, c.phones),
            ).fetchall()
        lookup_s = time.perf_counter() - start
        conn.execute("CREATE TEMP TABLE profile_members (LIKE members INCLUDING ALL)")
        conn.execute("ALTER TABLE profile_members ALTER org_id DROP NOT NULL")
        payload = b"".join(line + f"9{i:09d}\n".encode() for i, (_, _, _, line) in enumerate(rows))
        start = time.perf_counter()
        with conn.cursor().copy(f"COPY profile_members ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            copy.write(payload)
        conn.commit()
        copy_s = time.perf_counter() - start
    return {
        "read_and_check_s": round(check_s, 3),
        "registry_lookups_s": round(lookup_s, 3),
        "copy_s": round(copy_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx-rows", type=int, default=None, help="default: the same as --rows")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of ours and the raw COPY, interleaved")
    parser.add_argument("--csv-only", action="store_true", help="no xlsx rounds (a million rows: CSV only)")
    args = parser.parse_args()
    xlsx_rows = args.xlsx_rows or args.rows
    work = Path(tempfile.mkdtemp(prefix="uc-bench-files-"))
    csv_ratios: list[float] = []
    xlsx_ratios: list[float] = []
    rounds: list[dict[str, object]] = []
    # a million members' CSV is about 280 MB, past the service's default 200 MB upload limit
    limits = {"UNIONCARD_IMPORT_MAX_BYTES": str(1 << 30)} if args.rows > 500_000 else None
    with running_service(limits) as service:
        for r in range(args.repeats):
            org = ORGS[r % len(ORGS)]
            path = write_csv(work / f"m{r}.csv", member_rows(args.rows, seed=10 + r, phone_base=13_000_000_000))
            ours_s, view = import_file(service, org, f"clerk@{org}", path)
            assert view["accepted"] == args.rows, view
            raw_s, raw_count = raw_copy(service.db_url, path)
            csv_ratios.append((args.rows / ours_s) / (raw_count / raw_s))
            round_: dict[str, object] = {
                "csv_import_s": round(ours_s, 2),
                "csv_upload_s": view["upload_s"],
                "csv_workflow_s": view["workflow_s"],
                "raw_copy_s": round(raw_s, 2),
            }
            path.unlink()
            if not args.csv_only:
                rows = list(member_rows(xlsx_rows, seed=40 + r, phone_base=15_000_000_000))
                xlsx_path = write_xlsx(work / f"m{r}.xlsx", rows)
                xlsx_s, xlsx_view = import_file(service, org, f"clerk@{org}", xlsx_path)
                assert xlsx_view["accepted"] == xlsx_rows, xlsx_view
                same = write_csv(work / f"x{r}.csv", rows)
                raw_x_s, raw_x = raw_copy(service.db_url, same)
                xlsx_ratios.append((xlsx_rows / xlsx_s) / (raw_x / raw_x_s))
                round_ |= {"xlsx_import_s": round(xlsx_s, 2), "xlsx_raw_copy_s": round(raw_x_s, 2)}
                xlsx_path.unlink()
                same.unlink()
            rounds.append(round_)
        worker_rss = peak_rss_mb(service.worker.pid)
        pool_rss = [peak_rss_mb(c.pid) for c in psutil.Process(service.worker.pid).children()]
        api_rss = peak_rss_mb(service.api.pid)
        profile_file = write_csv(work / "profile.csv", member_rows(args.rows, seed=90, phone_base=17_000_000_000))
        profile = stage_profile(service.db_url, profile_file)
    result: dict[str, object] = {
        "benchmark": "import_members",
        "rows": args.rows,
        "repeats": args.repeats,
        "csv_vs_raw_copy_ratio": round(statistics.median(csv_ratios), 3),
        "csv_vs_raw_copy_ratios": [round(x, 3) for x in csv_ratios],
        "csv_import_rows_per_s": round(args.rows / statistics.median(float(str(r["csv_import_s"])) for r in rounds)),
        "target_ratio": 0.5,
        "worker_peak_rss_mb": worker_rss,
        "worker_import_process_peak_rss_mb": max(pool_rss, default=0.0),
        "worker_import_processes_peak_rss_mb": pool_rss,
        "api_peak_rss_mb": api_rss,
        "target_peak_rss_mb": 500 if args.rows <= 100_000 else 1000,
        "rounds": rounds,
        "profile_one_process": profile,
    }
    if xlsx_ratios:
        result |= {
            "xlsx_rows": xlsx_rows,
            "xlsx_vs_raw_copy_ratio": round(statistics.median(xlsx_ratios), 3),
            "xlsx_vs_raw_copy_ratios": [round(x, 3) for x in xlsx_ratios],
            "xlsx_target_ratio": 0.3,
        }
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
