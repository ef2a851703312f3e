"""No 500 is an answer: schemathesis generates requests for every operation of the OpenAPI spec,
valid ones and invalid ones, as an admin and as a clerk, against an API with a database, a
Temporal namespace and a worker of its own (it changes programme years and ends workflows).
Every answer must be below 500 and have a status code the spec documents for the operation."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from google.protobuf.duration_pb2 import Duration
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import status_code_conformance
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli.demo import seed_demo
from core.db import Database
from core.settings import Settings
from core.temporal import register_search_attributes
from tests.api.helpers import call
from tests.conftest import CONVERTER, free_port, fresh_database, serve
from tests.enrollment_setup import carded_members, config_around, put_year
from worker import ActivitySet, build_worker

EXAMPLES = 15  # per operation, role and mode: the whole run stays within about three minutes
BUDGET_SECONDS = 180
ROLES = ("admin@SH", "clerk@101-0001")


@dataclass
class Stack:
    base_url: str
    tokens: dict[str, str]
    spec: dict[str, Any]
    known: dict[str, Any]  # path parameters naming objects that exist


async def _world(base_url: str, db: Database, tokens: dict[str, str], tmp: Path) -> dict[str, Any]:
    """A programme year, members with cards, a card batch, an enrollment and a claim: the cases
    that name them reach past the not-found answers."""
    year = date.today().year
    clerk = tokens["clerk@101-0001"]
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        await put_year(api, tokens, year, config_around(date.today(), coverage=(-60, 300)))
        nos = await carded_members(api, db, clerk, "101-0001", tmp, 3, seed=8801)
        batch = await call(api, clerk, "POST", "/orgs/101-0001/card-batches", 201, json={"bank_branch": "工行某支行"})
        enrollment = await call(api, clerk, "POST", "/orgs/101-0001/enrollments", 201, json={"year": year})
        claim = await call(
            api, clerk, "POST", f"/members/{nos[0]}/claims", 201,
            json={"kind": "critical_illness", "illness": "malignant_tumour", "hospitalised": True,
                  "event_date": date.today().isoformat(), "description": "确诊住院治疗"},
        )  # fmt: skip
    return {
        "code": "101-0001", "year": year, "member_no": nos[0], "batch_id": batch["id"],
        "enrollment_id": enrollment["id"], "claim_id": claim["id"], "import_id": 1,
        "card_no": f"62228800{8801:04d}{1:07d}",  # the second member's card (carded_members numbers them so)
    }  # fmt: skip


async def _namespace(env: WorkflowEnvironment) -> str:
    """A Temporal namespace of the test's own: its workflow ids (card-batch-1 ...) are those of
    the other tests' database too."""
    name = f"fuzz-{uuid.uuid4().hex[:6]}"
    service = env.client.workflow_service
    await service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86400))
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            await service.describe_namespace(DescribeNamespaceRequest(namespace=name))
            break
        except RPCError:
            assert time.monotonic() < deadline, "namespace never became usable"
            await asyncio.sleep(0.5)
    await register_search_attributes(env.client, name)
    return name


@pytest.fixture(scope="module")
async def stack(
    pg_server: str, settings: Settings, temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    url = fresh_database(pg_server, "unioncard_fuzz")
    db = Database(url)
    namespace = await _namespace(temporal_env)
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host, namespace=namespace, data_converter=CONVERTER
    )
    port = free_port()
    own = settings.model_copy(
        update={
            "database_url": url,
            "temporal_namespace": namespace,
            "task_queue": f"fuzz-{uuid.uuid4().hex[:6]}",
            "data_dir": tmp_path_factory.mktemp("fuzz"),
            "bank_url": "http://127.0.0.1:9",  # no bank: nothing it sends back may reach another test's API
            "callback_url": f"http://127.0.0.1:{port}/bank/callbacks",
            "update_timeout_seconds": 5,
        }
    )
    with db.session() as session:
        seeded = seed_demo(session, Path(own.data_dir) / "tokens.json")
    tokens = {f"{t['role']}@{t['org']}": t["token"] for t in seeded}
    activities = ActivitySet(db, own)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(client, own, executor, activities):
            app = create_app(own, db=db, temporal=client)
            async for _ in serve(app, port):
                known = await _world(f"http://127.0.0.1:{port}", db, tokens, Path(own.data_dir))
                yield Stack(f"http://127.0.0.1:{port}", tokens, app.openapi(), known)
    activities.close()
    db.dispose()


def _fuzz(
    stack: Stack, role: str, mode: schemathesis.GenerationMode, use_known: bool, deadline: float
) -> tuple[int, list[str]]:
    """Every operation, EXAMPLES cases each; the failures found (none expected)."""
    schema = schemathesis.openapi.from_dict(stack.spec)
    headers = {"Authorization": f"Bearer {stack.tokens[role]}"}
    failures: list[str] = []
    cases = 0
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        if time.monotonic() > deadline:  # a loaded machine: the run stays bounded, the count below says how far
            print(f"schemathesis {role}: time budget spent before {operation.method.upper()} {operation.path}")
            break

        names = re.findall(r"\{(\w+)\}", operation.path)
        known = {n: stack.known[n] for n in names if n in stack.known} if use_known else {}
        if use_known and (not names or len(known) < len(names)):
            continue  # nothing known to name: the pass without known objects covers it

        @seed(20240501)
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        )  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=known))
        def run(case: schemathesis.Case[Any]) -> None:
            nonlocal cases
            cases += 1
            try:
                response = case.call(base_url=stack.base_url, headers=headers, timeout=60)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
            except AssertionError as exc:  # a check failed: keep going, report them all
                failures.append(f"{case.method} {case.formatted_path} ({role}, {mode.value}): {str(exc)[:600]}")

        try:
            run()
        except Unsatisfiable:  # nothing invalid to send (an operation without parameters)
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.path
    print(f"schemathesis {role} {mode.value} known={use_known}: statuses {sorted(statuses.items())}")
    return cases, failures


@pytest.mark.parametrize("role", ROLES)
async def test_no_operation_answers_a_server_error(stack: Stack, role: str) -> None:
    started = time.monotonic()
    total, found = 0, []
    passes = [(schemathesis.GenerationMode.POSITIVE, True), (schemathesis.GenerationMode.POSITIVE, False),
              (schemathesis.GenerationMode.NEGATIVE, False)]  # fmt: skip
    for mode, use_known in passes:
        cases, failures = await asyncio.to_thread(_fuzz, stack, role, mode, use_known, started + BUDGET_SECONDS / 2)
        total += cases
        found += failures
    seconds = time.monotonic() - started
    print(f"schemathesis {role}: {len(stack.spec['paths'])} paths, {total} cases, {seconds:.0f} s")
    assert not found, "\n".join(found)
    assert total > len(stack.spec["paths"]) * EXAMPLES  # enough of the run happened to mean something
