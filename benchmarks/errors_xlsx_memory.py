"""Memory of writing an import's errors.xlsx: 260,000 rejected rows, streamed in openpyxl's
write-only mode to a file (as the API does), against the same rows in an ordinary workbook (as
the API did before). Prints JSON: resident memory before, at its peak and after, and seconds.

    python benchmarks/errors_xlsx_memory.py --rows 260000
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
from openpyxl import Workbook

from documents.fake_members import HEADERS
from documents.workbooks import write_errors_xlsx

CELLS = ["张三", "310105198102030216", "13900000000", "上海市黄浦区南京东路100号", *["x"] * (len(HEADERS) - 4)]


def rows(n: int) -> Iterator[tuple[int, list[Any], list[str]]]:
    return ((i + 2, CELLS, ["手机号码：手机号码应为以1开头的11位数字"]) for i in range(n))


def in_memory_workbook(n: int) -> None:
    """The former way: every row in an ordinary workbook, then saved to bytes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([*HEADERS, "原行号", "错误原因"])
    for row_no, cells, messages in rows(n):
        ws.append([*cells, row_no, "；".join(messages)])
    buf = io.BytesIO()
    wb.save(buf)


def streamed(n: int) -> None:
    with tempfile.TemporaryFile() as out:
        write_errors_xlsx(out, HEADERS, rows(n))


def measure(work: Callable[[int], None], n: int) -> dict[str, float]:
    gc.collect()
    me = psutil.Process()
    before = me.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, me.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    work(n)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    gc.collect()
    mb = 1 << 20
    return {
        "rss_before_mb": round(before / mb),
        "rss_peak_mb": round(peak / mb),
        "rss_after_mb": round(me.memory_info().rss / mb),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=260_000)
    parser.add_argument("--baseline", action="store_true", help="also the former in-memory workbook")
    args = parser.parse_args()
    figures: dict[str, Any] = {"rows": args.rows, "streamed": measure(streamed, args.rows)}
    if args.baseline:
        figures["in_memory_workbook"] = measure(in_memory_workbook, args.rows)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
