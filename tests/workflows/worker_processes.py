"""Workers as processes of their own, for tests that kill one: started on a task queue of the
test, stopped (SIGTERM) when the test ends, whatever happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import TracebackType

from core.settings import Settings


def start_worker(settings: Settings, queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "UNIONCARD_DATABASE_URL": settings.database_url or "",
        "UNIONCARD_TEMPORAL_ADDRESS": settings.temporal_address,
        "UNIONCARD_TASK_QUEUE": queue,
        "UNIONCARD_BANK_URL": settings.bank_url,
        "UNIONCARD_CALLBACK_URL": settings.callback_url,
        "UNIONCARD_BANK_SECRET": settings.bank_secret,
        "UNIONCARD_IMPORT_PROCESSES": "0",
        "UNIONCARD_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], env=env, start_new_session=True)


class WorkerProcesses:
    def __init__(self, settings: Settings, queue: str) -> None:
        self.settings, self.queue = settings, queue
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        proc = start_worker(self.settings, self.queue)
        self.started.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL: the worker gets no chance to finish anything."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def __enter__(self) -> WorkerProcesses:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
