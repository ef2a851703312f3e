"""`unioncard dev` as a user runs it: one command starts everything, an import works over
HTTP and through the CLI, the metrics count what happened, no log line carries personal data,
Ctrl-C stops every child, and a second run keeps the data."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from documents.fake_members import HEADERS, member_rows, write_csv
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
_CTRL_C = "Ctrl-C stops everything; data is kept for the next run."


class Dev:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(150):
            self.stop()
            raise AssertionError("unioncard dev did not come up:\n" + "\n".join(self.lines[-40:]))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:  # closed here, at the end of output
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "Ctrl-C stops everything" in line:
                    self.ready.set()

    def tokens(self) -> dict[str, str]:
        found = {}
        for line in self.lines:
            m = re.match(r"^\s+(\w+)\s+(\S+)\s+\S+\s+\S+\s+Demo-\S+\s+(uc_\S+)$", line)  # role org name login password
            if m:
                found[f"{m[1]}@{m[2]}"] = m[3]
        return found

    def stop(self) -> list[psutil.Process]:
        children = psutil.Process(self.proc.pid).children(recursive=True)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(60)
        # The output ends only when every process that shared it (worker, its import
        # processes, API, Temporal) is gone: a leftover child keeps it open.
        self.reader.join(30)
        assert not self.reader.is_alive(), "a child process of unioncard dev is still running"
        return children


@pytest.fixture
def dev_env(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    data = tmp_path / "d"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("UNIONCARD_")},
        "UNIONCARD_DATA_DIR": str(data),
        "UNIONCARD_API_PORT": str(free_port()),
        "UNIONCARD_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "UNIONCARD_TEMPORAL_UI_PORT": str(free_port()),
        "UNIONCARD_BANK_SIM_PORT": str(free_port()),
        "UNIONCARD_LOG_JSON": "true",
        "UNIONCARD_IMPORT_PROCESSES": "1",
        "UNIONCARD_WORKER_METRICS_PORT": str(free_port()),
        "UNIONCARD_TEMPORAL_METRICS_PORT": str(free_port()),
    }
    yield data, env


def enroll_demo_year(api: str, tokens: dict[str, str]) -> None:
    """The seeded demo programme year (the latest; the one before it is the covered member's
    history): the union's carded members enroll, the district approves and records the
    grassroots share as paid, and the notice letter renders."""
    clerk = {"Authorization": f"Bearer {tokens['clerk@101-0001']}"}
    reviewer = {"Authorization": f"Bearer {tokens['reviewer@101']}"}
    years = httpx.get(f"{api}/programme-years", headers=clerk, timeout=10).json()
    assert len(years) == 2
    year = max(y["year"] for y in years)
    r = httpx.post(f"{api}/orgs/101-0001/enrollments", json={"year": year}, headers=clerk, timeout=30)
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["members_total"] == 42 and e["no_card"] == 0 and e["enrolled"] > 0  # the covered member too
    url = f"{api}/enrollments/{e['id']}"
    # every decision names the step of the view it was made on
    e = httpx.post(f"{url}/submit", json={"protection_type": "A", "step": e["step"]}, headers=clerk, timeout=30).json()
    assert e["status"] == "district_review", e
    e = httpx.post(f"{url}/review", json={"approve": True, "step": e["step"]}, headers=reviewer, timeout=30).json()
    assert e["status"] == "approved", e
    paid = {"amount": e["grassroots_share"], "reference": "e2e", "step": e["step"]}
    e = httpx.post(f"{url}/payment", json=paid, headers=reviewer, timeout=30).json()
    assert e["status"] == "paid", e
    pdf = httpx.get(f"{url}/notice", params={"format": "pdf"}, headers=clerk, timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(url, timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }


def check_metrics(env: dict[str, str], api: str) -> None:
    """The worker counted the batch and its cards once; Temporal's own metrics and the API's are served."""
    worker = scrape(f"http://127.0.0.1:{env['UNIONCARD_WORKER_METRICS_PORT']}/metrics")
    assert worker[("unioncard_card_batches_submitted_total", frozenset())] == 1
    assert worker[("unioncard_cards_issued_total", frozenset())] == 41
    temporal = scrape(f"http://127.0.0.1:{env['UNIONCARD_TEMPORAL_METRICS_PORT']}/metrics")
    assert any(name.startswith("temporal_activity_execution") for name, _ in temporal)
    routes = {dict(labels).get("route") for name, labels in scrape(f"{api}/metrics")}
    assert {"/card-batches/{batch_id}", "/orgs/{code}/members/imports"} <= routes


# What the scrubber writes when it had to mask something: the code logged personal data.
_MASKED = re.compile(r"\d{6}\*{8}[\dXx]{4}|1[3-9]\d\*{4}\d{4}")


_BANNER_LINES = {
    "",
    "unioncard is running",
    "demo users: sign in (POST /session) with login and password, or send the token (Authorization: Bearer):",
    _CTRL_C,
}


def assert_no_personal_data_logged(lines: list[str], rows: list[list[str]]) -> None:
    """Every log line is JSON (besides the launcher's banner); none holds an imported member's ID
    number or phone, and the scrubber had nothing to mask (so nothing tried to log them); lines
    carry request id and actor, workflow id and run id."""
    running = lines[: lines.index("stopping…")]  # after it, processes that stop may add their own noise
    assert [line for line in running if not line.startswith("{") and not line.startswith("  ")] == [
        line for line in running if line in _BANNER_LINES
    ]
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(logged) > 50
    everything = "\n".join(lines)
    for row in rows:
        for column in ("证件号码", "手机号码"):
            assert row[HEADERS.index(column)] not in everything, column
    assert not _MASKED.findall(everything), [line for line in lines if _MASKED.search(line)][:5]
    assert any(line.get("request_id") and line.get("actor") for line in logged)
    assert any(line.get("workflow_id") and line.get("run_id") for line in logged)


def test_dev_runs_everything_and_keeps_data(dev_env: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    data, env = dev_env
    api = f"http://127.0.0.1:{env['UNIONCARD_API_PORT']}"
    dev = Dev(data, env)
    try:
        banner = "\n".join(dev.lines)
        assert api in banner and f"http://127.0.0.1:{env['UNIONCARD_TEMPORAL_UI_PORT']}" in banner
        assert f"http://127.0.0.1:{env['UNIONCARD_BANK_SIM_PORT']}" in banner
        tokens = dev.tokens()
        assert {"admin@SH", "clerk@101-0001", "reviewer@101"} <= tokens.keys()
        clerk = {"Authorization": f"Bearer {tokens['clerk@101-0001']}"}
        assert httpx.get(f"{api}/ready", timeout=10).json()["status"] == "ready"

        rows = list(member_rows(30, seed=61))
        rows[3][HEADERS.index("手机号码")] = "not-a-phone"
        path = write_csv(tmp_path / "members.csv", rows)
        with path.open("rb") as f:
            r = httpx.post(
                f"{api}/orgs/101-0001/members/imports",
                params={"wait": "true"},
                files={"file": ("members.csv", f)},
                headers=clerk,
                timeout=120,
            )
        assert r.status_code == 202 and r.json()["status"] == "completed", r.text
        assert (r.json()["accepted"], r.json()["rejected_rows"]) == (29, 1)
        listed = httpx.get(f"{api}/orgs/101-0001/members", params={"size": 100}, headers=clerk, timeout=10).json()
        assert listed["total"] == 30  # and the demo's covered member

        more_rows = list(member_rows(12, seed=62))
        more = write_csv(tmp_path / "more.csv", more_rows)
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "import-members",
                str(more),
                "--org",
                "101-0001",
                "--token",
                tokens["clerk@101-0001"],
                "--api-url",
                api,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "12 added" in cli.stdout

        batch = httpx.post(
            f"{api}/orgs/101-0001/card-batches", json={"bank_branch": "工行人民广场支行"}, headers=clerk, timeout=30
        ).json()
        for step, body in (("members", {"all_without_card": True}), ("validate", None), ("submit", None)):
            r = httpx.post(f"{api}/card-batches/{batch['id']}/{step}", json=body, headers=clerk, timeout=30)
            assert r.status_code == 200, r.text
        deadline = time.monotonic() + 60
        while (view := httpx.get(f"{api}/card-batches/{batch['id']}", headers=clerk, timeout=10).json())["status"] != (
            "issued"
        ):
            assert time.monotonic() < deadline, view
            time.sleep(0.3)
        assert view["issued"] == 41 and view["batch_no"].startswith("101")
        check_metrics(env, api)
        enroll_demo_year(api, tokens)

        user = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "user",
                "add",
                "--org",
                "101",
                "--role",
                "reviewer",
                "--name",
                "新审核员",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert user.returncode == 0, user.stderr
        new_token = user.stdout.split("token: ")[1].strip()
        me = httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {new_token}"}, timeout=10).json()
        assert me["role"] == "reviewer" and me["org_code"] == "101"
    finally:
        children = dev.stop()
    assert dev.proc.returncode is not None
    time.sleep(1)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], "children left running"

    assert_no_personal_data_logged(dev.lines, rows + more_rows)

    again = Dev(data, env)
    try:
        assert again.tokens() == tokens
        listed = httpx.get(f"{api}/orgs/101-0001/members", headers=clerk, timeout=10).json()
        assert listed["total"] == 42
        saved = json.loads((data / "demo-tokens.json").read_text(encoding="utf-8"))
        assert len(saved) == len(tokens)
        clerk_entry = next(e for e in saved if e["org"] == "101-0001" and e["role"] == "clerk")
        signed = httpx.post(f"{api}/session", data={"login": clerk_entry["login"], "password": clerk_entry["password"]})
        assert signed.status_code == 200 and signed.json()["org_code"] == "101-0001", signed.text
        session_me = httpx.get(f"{api}/me", cookies=signed.cookies, timeout=10).json()
        assert session_me["login"] == clerk_entry["login"] and session_me["csrf_token"] == signed.json()["csrf_token"]
    finally:
        again.stop()


def _child(dev: Dev, name: str) -> psutil.Process:
    """The launcher's child running `unioncard <name>` now."""
    found = [c for c in psutil.Process(dev.proc.pid).children() if c.cmdline()[-2:] == ["cli.main", name]]
    assert len(found) == 1, found
    return found[0]


def _eventually(check: Callable[[], object], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (answer := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return answer


def _gone(processes: list[psutil.Process]) -> bool:
    return not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _ready(api: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{api}/ready", timeout=2).status_code == 200
    return False


def test_dev_starts_a_killed_child_again_and_a_killed_workers_imports_end(
    dev_env: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    data, env = dev_env
    api = f"http://127.0.0.1:{env['UNIONCARD_API_PORT']}"
    dev = Dev(data, env)
    try:
        worker = _child(dev, "worker")
        helpers = _eventually(worker.children, 60, "the worker started no import process")
        worker.send_signal(signal.SIGKILL)
        _eventually(lambda: _gone(helpers), 10, "the killed worker's import processes kept running")
        _eventually(lambda: any("worker started again" in line for line in dev.lines), 30, "no new worker")
        assert any("worker exited with code -9; starting it again in 1 s" in line for line in dev.lines)
        assert _child(dev, "worker").pid != worker.pid

        clerk = {"Authorization": f"Bearer {dev.tokens()['clerk@101-0001']}"}
        rows = list(member_rows(5, seed=63))
        with write_csv(tmp_path / "after.csv", rows).open("rb") as f:  # the new worker imports it
            r = httpx.post(
                f"{api}/orgs/101-0001/members/imports", params={"wait": "true"}, files={"file": ("after.csv", f)},
                headers=clerk, timeout=120,
            )  # fmt: skip
        assert r.status_code == 202 and r.json()["status"] == "completed", r.text

        _child(dev, "api").send_signal(signal.SIGKILL)
        _eventually(lambda: any("api started again" in line for line in dev.lines), 30, "no new API")
        _eventually(lambda: _ready(api), 60, "the API did not answer again")
    finally:
        children = dev.stop()
    time.sleep(1)
    assert _gone(children), "children left running"
