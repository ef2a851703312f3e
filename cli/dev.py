"""`unioncard dev`: everything on one machine, data kept under data_dir between runs.

Starts (or reuses) the embedded PostgreSQL, applies migrations, starts the Temporal dev
server (its web UI pointed at the API's codec endpoint), seeds the demo tree once, makes
the payload encryption key once (data_dir/codec-keys), then runs the worker and the API as
child processes.
A worker, API or bank simulator that dies is started again (after 1 s, doubling up to 30 s
while it keeps dying) and the console says so; the Temporal dev server exiting, or the
embedded PostgreSQL no longer answering, stops everything (run `unioncard dev` again).
Ctrl-C stops every child.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bank_sim.app import keep_card_on_record
from cli.demo import seed_demo, seed_demo_year
from cli.demo_history import seed_covered_member
from core.codec import new_key_spec
from core.db import Database, ensure_database, migrate, start_embedded_postgres
from core.settings import Settings
from rules.calendar import today

DB_NAME = "unioncard"


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded cluster under data_dir/pg (started if needed)."""
    if settings.database_url:
        return settings.database_url
    server = start_embedded_postgres(settings.data_dir / "pg")
    return ensure_database(server, DB_NAME)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _wait_port(host: str, port: int, what: str, proc: subprocess.Popen[bytes] | None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        time.sleep(0.2)
    raise SystemExit(f"{what} did not open {host}:{port} within {seconds:.0f}s")


def find_binary(name: str) -> str:
    """A console binary installed beside this interpreter (temporal, temporal-test-server), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"`{name}` is not installed (pip install the project's dependencies)")
    return found


def dev_codec_keys(settings: Settings) -> str:
    """The configured codec keys, else the development key kept under data_dir (made on the
    first run, readable by its owner only): histories written by earlier runs stay readable."""
    if settings.codec_keys is not None and settings.codec_keys.get_secret_value().strip():
        return settings.codec_keys.get_secret_value()
    path = settings.data_dir / "codec-keys"
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key_spec("dev1") + "\n")
    return path.read_text().strip()


def codec_endpoint(settings: Settings) -> str:
    """Where a browser on this machine reaches the API's codec endpoint."""
    host = "127.0.0.1" if settings.api_host in ("", "0.0.0.0", "::") else settings.api_host  # noqa: S104
    return f"http://{host}:{settings.api_port}/codec"


def ui_origins(settings: Settings) -> str:
    """The web UI's origins as a browser names them (the UI binds where the frontend does)."""
    host = settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
    hosts = dict.fromkeys(("localhost", "127.0.0.1", host))
    return ",".join(f"http://{h}:{settings.temporal_ui_port}" for h in hosts)


def start_temporal(settings: Settings) -> subprocess.Popen[bytes] | None:
    host, _, port = settings.temporal_address.rpartition(":")
    host = host or "127.0.0.1"
    if _port_open(host, int(port)):
        return None  # a Temporal server already answers there
    binary = find_binary("temporal")
    log = (settings.data_dir / "temporal.log").open("ab")
    proc = subprocess.Popen(
        [
            binary,
            "server",
            "start-dev",
            "--db-filename",
            str(settings.data_dir / "temporal.db"),
            "--ip",
            host,
            "--port",
            port,
            "--ui-port",
            str(settings.temporal_ui_port),
            "--ui-codec-endpoint",
            codec_endpoint(settings),
            "--namespace",
            settings.temporal_namespace,
            "--log-level",
            "warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    _wait_port(host, int(port), "Temporal dev server", proc)
    return proc


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], env=env, start_new_session=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Each child leads its own process group: the signal reaches its helpers too (the
    worker's import processes), so nothing is left running."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in reversed(procs):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        _signal_group(proc, signal.SIGKILL)


RESTARTED = ("bank-sim", "worker", "api")  # children started again when they die; the API last
BACKOFF_MAX = 30.0  # seconds between restarts of a child that keeps dying
STEADY = 60.0  # a child that ran this long before it died is restarted at once


def _say(line: str) -> None:
    print(f"unioncard dev: {line}", flush=True)


class Child:
    """A child process of the launcher, started again with a backoff when it dies."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name, self.env = name, env
        self.proc = _child([name], env)
        self.started = time.monotonic()
        self.restarts = 0
        self.due: float | None = None  # when it is started again

    def tend(self, now: float) -> None:
        if self.due is None and self.proc.poll() is not None:
            _signal_group(self.proc, signal.SIGKILL)  # whatever of its group is left (its import processes)
            if now - self.started >= STEADY:
                self.restarts = 0
            delay = min(2.0**self.restarts, BACKOFF_MAX)
            self.restarts += 1
            self.due = now + delay
            _say(f"{self.name} exited with code {self.proc.returncode}; starting it again in {delay:.0f} s")
        elif self.due is not None and now >= self.due:
            self.proc = _child([self.name], self.env)
            self.started, self.due = now, None
            _say(f"{self.name} started again (pid {self.proc.pid}, restart {self.restarts})")


class DatabaseWatch:
    """Whether the embedded PostgreSQL answers: looked at every few seconds, given up after a few misses."""

    EVERY, MISSES = 5.0, 3

    def __init__(self, url: str) -> None:
        self.url, self.next, self.missed = url, time.monotonic() + self.EVERY, 0

    def answers(self, now: float) -> bool:
        if now >= self.next:
            self.next = now + self.EVERY
            try:
                psycopg.connect(self.url, connect_timeout=3).close()
                self.missed = 0
            except psycopg.OperationalError:
                self.missed += 1
        return self.missed < self.MISSES


def seed(settings: Settings, db: Database) -> list[dict[str, str]]:
    """The demo tree and users (once), a demo year open today and a member covered today to claim
    for (on every start: cli.demo, cli.demo_history), the covered member's card on the bank
    simulator's register; answers the demo tokens."""
    day = today(settings.timezone)
    with db.session() as session:
        tokens = seed_demo(session, settings.data_dir / "demo-tokens.json")
        years = seed_demo_year(session, day)
        if years is None:  # an admin's own years replaced the demo's
            return tokens
        covered = seed_covered_member(session, demo_year=years[0], history_year=years[1], today=day,
                                      tz=settings.timezone)  # fmt: skip
    api_base = f"http://{settings.api_host}:{settings.api_port}"
    callback = os.environ.get("UNIONCARD_CALLBACK_URL", f"{api_base}/bank/callbacks")
    keep_card_on_record(settings.data_dir / "bank-sim.json", covered.card_no, covered.member_no, callback)
    return tokens


def run_dev(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = resolve_database_url(settings)
    migrate(url)
    db = Database(url)
    tokens = seed(settings, db)
    db.dispose()
    api_base = f"http://{settings.api_host}:{settings.api_port}"
    procs: list[subprocess.Popen[bytes]] = []
    children: list[Child] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        temporal = start_temporal(settings)
        if temporal:
            procs.append(temporal)
        env = {
            **os.environ,
            "UNIONCARD_DATABASE_URL": url,
            "UNIONCARD_DATA_DIR": str(settings.data_dir.resolve()),
            "UNIONCARD_BANK_URL": os.environ.get("UNIONCARD_BANK_URL", f"http://127.0.0.1:{settings.bank_sim_port}"),
            "UNIONCARD_CALLBACK_URL": os.environ.get("UNIONCARD_CALLBACK_URL", f"{api_base}/bank/callbacks"),
            "UNIONCARD_CODEC_KEYS": dev_codec_keys(settings),
            "UNIONCARD_CODEC_CORS_ORIGINS": os.environ.get("UNIONCARD_CODEC_CORS_ORIGINS", ui_origins(settings)),
        }
        children = [Child(name, env) for name in RESTARTED]
        _wait_port(settings.api_host, settings.api_port, "API", children[-1].proc)
        _banner(settings, tokens)
        database = None if settings.database_url else DatabaseWatch(url)  # an embedded one does not come back
        while not stopping:
            now = time.monotonic()
            for child in children:
                child.tend(now)
            if temporal is not None and temporal.poll() is not None:
                _say(f"the Temporal dev server exited with code {temporal.returncode}: stopping everything")
                break
            if database is not None and not database.answers(now):
                _say("the embedded PostgreSQL does not answer: stopping everything")
                break
            time.sleep(0.5)
    finally:
        print("stopping…", flush=True)
        _stop(procs + [c.proc for c in children if c.proc.poll() is None])


def _banner(settings: Settings, tokens: list[dict[str, str]]) -> None:
    base = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        "",
        "unioncard is running",
        f"  API           {base}   (docs: {base}/docs)",
        f"  Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}",
        f"  bank (sim)    http://127.0.0.1:{settings.bank_sim_port}   (faults: PUT /config)",
        f"  Temporal      {settings.temporal_address}",
        f"  codec         {codec_endpoint(settings)}   (UI decoding: an admin signs in at /codec/sign-in)",
        f"  data          {settings.data_dir}",
        "",
        "demo users: sign in (POST /session) with login and password, or send the token (Authorization: Bearer):",
    ]
    for t in tokens:
        who = f"{t['role']:<16} {t['org']:<14} {t['name']:<10}"
        lines.append(f"  {who} {t.get('login', ''):<20} {t.get('password', ''):<18} {t['token']}")
    lines += ["", "Ctrl-C stops everything; data is kept for the next run.", ""]
    print("\n".join(lines), flush=True)
