"""The import processes' memory limit: a watchdog in the worker that ends a process whose resident
memory passes the limit, so that a file needing more fails its import instead of the machine.

An address-space limit (RLIMIT_AS) would be simpler, but the readers (polars, calamine) reserve
far more address space for their thread pools than they ever touch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psutil

from core.logging import get_logger

log = get_logger(__name__)


class MemoryWatchdog:
    """Polls ``pids()`` every ``interval`` seconds; a process over ``megabytes`` is killed and
    ``tripped`` set, so that the pool's failure is read as the file's size, not a crash."""

    def __init__(self, pids: Callable[[], list[int]], megabytes: int, interval: float = 0.05) -> None:
        self.pids = pids
        self.limit = megabytes << 20
        self.interval = interval
        self.tripped = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="import-memory-watchdog", daemon=True)
        if megabytes > 0:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in self.pids():
                try:
                    process = psutil.Process(pid)
                    if process.memory_info().rss > self.limit:
                        process.kill()
                        self.tripped.set()
                        log.warning("import process over its memory limit ended", pid=pid, limit_mb=self.limit >> 20)
                except psutil.Error:
                    continue

    def stop(self) -> None:
        self._stop.set()
