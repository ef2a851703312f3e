"""The import processes' memory watchdog ends a process past its resident-memory limit, and only
such a process."""

from __future__ import annotations

import subprocess
import sys
import time

from activities.import_memory import MemoryWatchdog

GROW = "import time\nblock = bytearray(300 << 20)\nfor i in range(0, len(block), 4096): block[i] = 1\ntime.sleep(30)"
IDLE = "import time\ntime.sleep(30)"


def test_a_process_past_the_limit_is_ended_and_the_watchdog_says_so() -> None:
    big = subprocess.Popen([sys.executable, "-c", GROW])
    small = subprocess.Popen([sys.executable, "-c", IDLE])
    watchdog = MemoryWatchdog(lambda: [big.pid, small.pid], megabytes=150, interval=0.02)
    try:
        assert big.wait(20) == -9  # SIGKILL
        assert watchdog.tripped.is_set()
        time.sleep(0.2)
        assert small.poll() is None  # well under the limit: left alone
    finally:
        watchdog.stop()
        for proc in (big, small):
            proc.kill()
            proc.wait()


def test_no_limit_watches_nothing() -> None:
    watchdog = MemoryWatchdog(lambda: [], megabytes=0)
    assert not watchdog._thread.is_alive()
    watchdog.stop()
