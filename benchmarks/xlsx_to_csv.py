"""The xlsx conversion against fastexcel's own read of the same sheet: ``xlsx_to_csv`` (pre-scan,
calamine's read with the typed cells searched beside it, polars' CSV) of generated members, runs
of the two interleaved (the machine is noisy), the median of each.

Prints JSON. Usage: python benchmarks/xlsx_to_csv.py [--rows 100000] [--repeat 5] [--typed]
(``--typed``: phones stored as numbers and expiry dates as dates, 150,000 typed cells at 100,000 rows)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import fastexcel

from documents.fake_members import HEADERS, member_rows, write_xlsx
from documents.tabular import xlsx_to_csv


def typed_xlsx(path: Path, rows: int) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("会员信息")
    ws.append(HEADERS)
    phone, expiry = HEADERS.index("手机号码"), HEADERS.index("证件有效期至")
    for row in member_rows(rows, seed=2, phone_base=15_000_000_000):
        cells: list[object] = list(row)
        cells[phone] = int(row[phone])
        if row[expiry] != "长期":
            cells[expiry] = date.fromisoformat(row[expiry])
        ws.append(cells)
    wb.save(path)
    return path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--typed", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "members.xlsx"
        if args.typed:
            typed_xlsx(src, args.rows)
        else:
            write_xlsx(src, member_rows(args.rows, seed=2, phone_base=15_000_000_000))
        read, convert, read_cpu, convert_cpu = [], [], [], []
        for _ in range(args.repeat):
            start, cpu = time.perf_counter(), _cpu()
            fastexcel.read_excel(str(src)).load_sheet(0, header_row=None, dtypes="string").to_polars()
            read.append(time.perf_counter() - start)
            read_cpu.append(_cpu() - cpu)
            start, cpu = time.perf_counter(), _cpu()
            written = xlsx_to_csv(src, Path(tmp) / "members.csv")
            convert.append(time.perf_counter() - start)
            convert_cpu.append(_cpu() - cpu)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "typed_cells": args.typed,
                "csv_rows_written": written,
                "fastexcel_read_s": [round(t, 3) for t in read],
                "xlsx_to_csv_s": [round(t, 3) for t in convert],
                "xlsx_to_csv_vs_fastexcel_median": round(statistics.median(convert) / statistics.median(read), 3),
                "cpu_s_fastexcel_median": round(statistics.median(read_cpu), 3),
                "cpu_s_xlsx_to_csv_median": round(statistics.median(convert_cpu), 3),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
