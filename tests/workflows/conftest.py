"""Fixtures of the workflow tests: a time-skipping Temporal server with a worker of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.dev import find_binary
from core.db import Database
from core.settings import Settings
from core.temporal import register_search_attributes
from tests.conftest import CONVERTER
from worker import ActivitySet, build_worker
from workflows.common import ActorRef


@pytest.fixture(scope="module")
async def skipping(settings: Settings, db: Database) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"), data_converter=CONVERTER
    )
    await register_search_attributes(env.client, "default")
    queue = f"ts-{uuid.uuid4().hex[:6]}"
    local = settings.model_copy(update={"task_queue": queue})
    activities = ActivitySet(db, local)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(env.client, local, executor, activities):
            yield env, queue
    activities.close()
    await env.shutdown()


def user(db: Database, role: str, org: str) -> ActorRef:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT u.id, u.name, o.path FROM users u JOIN organisations o ON o.id = u.org_id "
            "WHERE u.role = %s AND o.code = %s ORDER BY u.id LIMIT 1",
            (role, org),
        ).fetchone()
    assert row is not None, (role, org)
    return ActorRef(int(row[0]), str(row[1]), role, org, str(row[2]))
