"""A worker's import processes end with it, even when it is killed outright (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil

# A parent that starts a spawned pool the way the worker does, prints its helper's pid, and waits.
_PARENT = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from activities.import_chunks import start_import_process

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=start_import_process, initargs=(0,))
        print(pool.submit(os.getpid).result(), flush=True)
        time.sleep(120)
    """
)


def test_an_import_process_ends_when_its_worker_is_killed() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True, cwd=os.getcwd(),
    ) as parent:  # fmt: skip
        try:
            assert parent.stdout is not None
            helper = psutil.Process(int(parent.stdout.readline()))
            assert helper.is_running() and helper.ppid() == parent.pid
            os.kill(parent.pid, signal.SIGKILL)  # no chance to stop its pool
            parent.wait(10)
            deadline = time.monotonic() + 5
            while helper.is_running() and helper.status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline, "the import process outlived its worker"
                time.sleep(0.1)
        finally:
            parent.kill()
