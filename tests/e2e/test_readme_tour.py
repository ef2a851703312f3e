"""The README's tour runs as written: every shell command of its "## A tour" section, in order,
in one bash session against `unioncard dev` started on a fresh data directory, each answer
checked. Then a second start on that directory, its demo year's dates moved into the past (an
old `.data`), still gives a demo year open today and a covered member to claim for.

The commands run from a directory holding `.venv`, `docs` and `.data` (links to the project's
and to the test's data directory); only the ports are the test's own (`localhost:8000` and
`localhost:8100` are rewritten to them). `curl` is wrapped to report each HTTP status on stderr:
every answer is 2xx unless the command carries a `# refused: <status>` note, and a `wait_for`
command (which polls) is held to its exit status. Waiting for the bank and the workflows is the
README's own `wait_for` (bounded: a minute).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from cli.demo import DEMO_MARK, open_on
from cli.dev import DB_NAME
from core.db import ensure_database, start_embedded_postgres
from models.programme import ProgrammeYearConfig
from rules.calendar import today
from tests.conftest import free_port
from tests.e2e.test_dev import Dev

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TZ = "Asia/Shanghai"
# curl as the tour calls it, also reporting each answer's status (on stderr, after the body).
CURL = """curl() { command curl -w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n' "$@"; }\n"""


def tour_section(text: str) -> str:
    start = text.index("\n## A tour\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def is_complete(command: str) -> bool:
    """Does bash read ``command`` as whole (no open quote, brace or continuation)?"""
    if command.rstrip().endswith("\\"):
        return False
    return subprocess.run(["bash", "-n"], input=command, text=True, capture_output=True).returncode == 0


def tour_commands(text: str) -> list[str]:
    """The shell commands of the tour's ```sh blocks, in order, as bash reads them."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```$", tour_section(text), flags=re.S | re.M):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line + "\n"
            if is_complete(pending):
                commands.append(pending.rstrip("\n"))
                pending = ""
        assert not pending, f"a command of the tour does not parse:\n{pending}"
    return commands


@dataclass
class Answer:
    command: str
    rc: int
    out: str
    err: str
    statuses: list[int] = field(default_factory=list)

    def documents(self) -> list[Any]:
        """Every JSON answer the command printed (curl's on stdout, `pick`'s on stderr)."""
        found = []
        for text in (self.out, self.err):
            for line in re.split(r"\n|(?<=[}\]])(?=[{\[])", text):
                line = line.strip()
                if line[:1] in "{[":
                    try:
                        found.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
        return found

    def view(self) -> dict[str, Any]:
        """The command's (last) JSON object answer."""
        views = [d for d in self.documents() if isinstance(d, dict)]
        assert views, f"no JSON answer:\n{self}"
        return views[-1]

    def __str__(self) -> str:
        return f"$ {self.command}\nexit {self.rc}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


class Shell:
    """One bash session: variables and functions carry from command to command, as in a terminal."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=cwd, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.marks: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.count = 0
        self._send(CURL)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.marks.put(line)

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, command: str, timeout: float = 90) -> Answer:
        self.count += 1
        n = self.count
        (self.cwd / f".cmd-{n}.sh").write_text(command + "\n", encoding="utf-8")
        self._send(f'source .cmd-{n}.sh > .out-{n} 2> .err-{n}; echo "__rc__ $?"\n')
        deadline = time.monotonic() + timeout
        while True:
            line = self.marks.get(timeout=max(deadline - time.monotonic(), 0.1))
            if line.startswith("__rc__ "):
                break
        out = (self.cwd / f".out-{n}").read_text(encoding="utf-8", errors="replace")
        err = (self.cwd / f".err-{n}").read_text(encoding="utf-8", errors="replace")
        statuses = [int(s) for s in re.findall(r"^HTTP (\d{3}) ", err, flags=re.M)]
        err = re.sub(r"^HTTP \d{3} .*\n", "", err, flags=re.M)
        return Answer(command, int(line.split()[1]), out, err, statuses)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def refused(command: str) -> int | None:
    m = re.search(r"# refused: (\d{3})", command)
    return int(m[1]) if m else None


def check_statuses(a: Answer) -> None:
    assert a.rc == 0, f"the command failed:\n{a}"
    if a.command.startswith("wait_for "):
        return  # it polls: answers before the awaited one may be anything
    expected = refused(a.command)
    if "curl " in a.command and not re.match(r"\w+\(\) \{", a.command):  # a function's definition asks nothing
        assert a.statuses, f"no HTTP answer:\n{a}"
    if expected is not None:
        assert a.statuses == [expected] * len(a.statuses), f"expected {expected}:\n{a}"
    else:
        assert all(200 <= s < 300 for s in a.statuses), f"a refused request:\n{a}"


def _names(a: Answer) -> set[str]:
    return {m["name"] for m in a.view()["items"]}


# What the answers must say, by a part of the command that asks (each must be asked at least once).
CHECKS: dict[str, Callable[[Answer], object]] = {
    "localhost:8000/ready": lambda a: a.view()["status"] == "ready",
    "members/imports?wait=true": lambda a: (a.view()["accepted"], a.view()["rejected_rows"]) == (10, 1),
    "import-members docs/tour/members.csv": lambda a: "0 added" in a.out,
    "--data-urlencode q=张": lambda a: _names(a) == {"张伟", "张秀英"},
    "$BATCH/validate": lambda a: a.view()["status"] == "validated",
    "card-batches/$BATCH        # status": lambda a: (a.view()["status"], a.view()["issued"]) == ("issued", 8),
    '/revocation/decision -d \'{"approve":true,"reason":"同意","step":\'$STEP\'}\'   # revoked': lambda a: (
        a.view()["status"] == "revoked"
    ),
    "registrations/$YEAR -d '{\"all\":true}'": lambda a: a.view()["registered_now"] == 9,
    "localhost:8000/cards/$LOST              #": lambda a: a.view()["status"] == "replaced",
    "orgs/101-0001/enrollments -d": lambda a: (a.view()["members_total"], a.view()["no_card"]) == (11, 1),
    '"approve":true,"step":\'$STEP\'}\' | pick \'d["step"]\')      # approved': lambda a: (
        a.view()["status"] == "approved"
    ),
    "/payment -d": lambda a: (a.view()["status"], a.view()["paid"]) == ("paid", a.view()["grassroots_share"]),
    "/voucher/decision": lambda a: a.view()["status"] == "approved",
    'members/1010000001/claims \\\n  -d \'{"kind":"critical_illness"': lambda a: (
        (a.view()["status"], a.view()["reasons"], a.view()["amount"]) == ("under_review", [], "10000.00")
    ),
    "Bearer $CENTER\" -H 'content-type: application/json' localhost:8000/claims/$CLAIM/review": lambda a: (
        a.view()["status"] == "approved"
    ),
    "localhost:8000/claims/$CLAIM       #": lambda a: a.view()["status"] == "paid",
    "Bearer $ADMIN\" 'localhost:8000/admin/workflows?failing=true'": lambda a: "card-batch-" in a.out,
    "localhost:8000/card-batches/$BATCH3     #": lambda a: (
        a.view()["status"] == "submitted" and "银行暂时无法接收" in a.view()["waiting"]["message"]
    ),
    "/repairs -d": lambda a: a.rc == 0,
    "terminate --reason": lambda a: a.rc == 0,
    "localhost:8000/claims/$CLAIM2      # closed": lambda a: a.view()["status"] == "closed",
}


@pytest.fixture
def tour_env() -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A data directory, the directory the tour's commands run in, and the environment of both
    (in a directory of its own: pytest's numbered temporary directories are removed by other
    test sessions of the same user)."""
    with tempfile.TemporaryDirectory(prefix="uc-tour-") as tmp:
        yield from _tour_env(Path(tmp))


def _tour_env(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    data = tmp_path / "d"
    work = tmp_path / "w"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (work / "docs").symlink_to(ROOT / "docs")
    (work / ".data").symlink_to(data)
    api = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("UNIONCARD_")},
        "UNIONCARD_DATA_DIR": str(data),
        "UNIONCARD_API_PORT": str(api),
        "UNIONCARD_API_URL": f"http://127.0.0.1:{api}",
        "UNIONCARD_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "UNIONCARD_TEMPORAL_UI_PORT": str(free_port()),
        "UNIONCARD_BANK_SIM_PORT": str(free_port()),
        "UNIONCARD_LOG_JSON": "true",
        "UNIONCARD_IMPORT_PROCESSES": "1",
        "UNIONCARD_WORKER_METRICS_PORT": "0",
        "UNIONCARD_TEMPORAL_METRICS_PORT": "0",
    }
    yield data, work, env


def on_ports(command: str, env: dict[str, str]) -> str:
    api, bank = env["UNIONCARD_API_PORT"], env["UNIONCARD_BANK_SIM_PORT"]
    for host in ("localhost", "127.0.0.1"):
        command = command.replace(f"{host}:8000", f"{host}:{api}").replace(f"{host}:8100", f"{host}:{bank}")
    return command


def walk_tour(work: Path, env: dict[str, str]) -> int:
    commands = tour_commands(README.read_text(encoding="utf-8"))
    shell = Shell(work, env)
    asked = dict.fromkeys(CHECKS, 0)
    try:
        for command in commands:
            answer = shell.run(on_ports(command, env))
            answer.command = command
            check_statuses(answer)
            for part, check in CHECKS.items():
                if part in command:
                    asked[part] += 1
                    assert check(answer), f"the answer is not what the tour says ({part}):\n{answer}"
    finally:
        shell.close()
    assert not [part for part, n in asked.items() if not n], "the tour no longer asks this"
    print(f"the README tour: {shell.count} commands, every answer checked")
    assert shell.count == len(commands)
    return shell.count


def demo_years(api: str, token: str) -> dict[int, ProgrammeYearConfig]:
    years = httpx.get(f"{api}/programme-years", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return {y["year"]: ProgrammeYearConfig.model_validate(y["config"]) for y in years}


def shift_into_the_past(data: Path, year: int, days: int) -> None:
    """An old `.data`: the demo year's every date ``days`` earlier (the embedded cluster is
    started as `unioncard dev` starts it)."""
    url = ensure_database(start_embedded_postgres(data / "pg"), DB_NAME)
    with psycopg.connect(url) as conn:
        (config,) = conn.execute("SELECT config FROM programme_years WHERE year = %s", (year,)).fetchone() or (None,)
        assert config is not None

        def earlier(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: earlier(v) for k, v in value.items()}
            if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return (date.fromisoformat(value) - timedelta(days=days)).isoformat()
            return value

        conn.execute(
            "UPDATE programme_years SET config = %s WHERE year = %s", (json.dumps(earlier(config)), year)
        )  # fmt: skip


def test_the_readme_tour_runs_as_written_and_again_on_an_old_data_dir(
    tour_env: tuple[Path, Path, dict[str, str]],
) -> None:
    data, work, env = tour_env
    api = f"http://127.0.0.1:{env['UNIONCARD_API_PORT']}"
    dev = Dev(data, env)
    try:
        assert walk_tour(work, env) >= 90
        tokens = dev.tokens()
        clerk = tokens["clerk@101-0001"]
        toured = max(demo_years(api, clerk))
    finally:
        dev.stop()

    # An old `.data`: the toured year's dates lie two months back, its workflows ran with them.
    shift_into_the_past(data, toured, 60)
    again = Dev(data, env)
    try:
        day = today(TZ)
        years = demo_years(api, clerk)
        assert not open_on(years[toured], toured, day)  # running workflows keep their dates
        latest = max(years)
        assert latest == toured + 1 and years[latest].plan_name.endswith(DEMO_MARK)
        assert open_on(years[latest], latest, day)
        # The covered member's history followed: a claim for them passes every check today.
        claim = {"kind": "accidental_death", "event_date": day.isoformat(), "description": "意外身故",
                 "beneficiary_name": "陈小华", "beneficiary_relation": "子女"}  # fmt: skip
        r = httpx.post(f"{api}/members/1010000001/claims", json=claim, headers={"Authorization": f"Bearer {clerk}"},
                       timeout=60)  # fmt: skip
        assert r.status_code == 201, r.text
        assert (r.json()["status"], r.json()["reasons"]) == ("under_review", []), r.json()
    finally:
        again.stop()
