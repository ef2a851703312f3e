"""The service as a benchmark runs it: PostgreSQL, a Temporal dev server, and the worker and API
as their own processes (so their memory is measured apart from the benchmark's)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from cli.demo import seed_demo
from cli.dev import find_binary
from core.codec import new_key_spec
from core.db import migrate, psycopg_url, start_embedded_postgres, with_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


@dataclass
class Service:
    api_url: str
    bank_url: str
    temporal_address: str
    db_url: str
    tokens: dict[str, str]
    worker: subprocess.Popen[bytes]
    api: subprocess.Popen[bytes]
    data_dir: Path

    def client(self, role_at_org: str) -> httpx.Client:
        token = self.tokens[role_at_org]
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=600)


@contextlib.contextmanager
def running_service(extra_env: dict[str, str] | None = None) -> Iterator[Service]:
    data_dir = Path(tempfile.mkdtemp(prefix="uc-bench-"))
    pg_dir = Path(f"/tmp/uc-bench-pg-{uuid.uuid4().hex[:6]}")
    server = (
        psycopg_url(os.environ["TEST_DATABASE_URL"])
        if os.environ.get("TEST_DATABASE_URL")
        else (start_embedded_postgres(pg_dir))
    )
    name = f"unioncard_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = with_database(server, name)
    migrate(db_url)
    from core.db import Database

    db = Database(db_url)
    with db.session() as session:
        seeded = seed_demo(session, data_dir / "tokens.json")
    db.dispose()
    temporal_port, api_port, bank_port = free_port(), free_port(), free_port()
    temporal = subprocess.Popen(
        [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(temporal_port),
            "--log-level",
            "error",
        ],
        stdout=(data_dir / "temporal.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    env = {
        **os.environ,
        "UNIONCARD_DATABASE_URL": db_url,
        "UNIONCARD_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "UNIONCARD_API_PORT": str(api_port),
        "UNIONCARD_BANK_SIM_PORT": str(bank_port),
        "UNIONCARD_BANK_URL": f"http://127.0.0.1:{bank_port}",
        "UNIONCARD_CALLBACK_URL": f"http://127.0.0.1:{api_port}/bank/callbacks",
        "UNIONCARD_DATA_DIR": str(data_dir),
        "UNIONCARD_LOG_LEVEL": "WARNING",
        "UNIONCARD_CODEC_KEYS": new_key_spec("bench"),  # payloads encrypted, as in production
        **(extra_env or {}),
    }
    procs: list[subprocess.Popen[bytes]] = [temporal]
    try:
        wait_port(temporal_port)
        worker = subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], env=env, start_new_session=True)
        api = subprocess.Popen([sys.executable, "-m", "cli.main", "api"], env=env, start_new_session=True)
        bank = subprocess.Popen([sys.executable, "-m", "cli.main", "bank-sim"], env=env, start_new_session=True)
        procs += [worker, api, bank]
        wait_port(api_port)
        wait_port(bank_port)
        yield Service(
            api_url=f"http://127.0.0.1:{api_port}",
            bank_url=f"http://127.0.0.1:{bank_port}",
            temporal_address=f"127.0.0.1:{temporal_port}",
            db_url=db_url,
            tokens={f"{t['role']}@{t['org']}": t["token"] for t in seeded},
            worker=worker,
            api=api,
            data_dir=data_dir,
        )
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        with contextlib.suppress(Exception), psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log = data_dir / "temporal.log"
        if log.exists() and log.stat().st_size:
            sys.stderr.write("temporal server log (tail):\n" + log.read_text(errors="replace")[-3000:])
        shutil.rmtree(data_dir, ignore_errors=True)


def wait_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port} after {seconds}s")
