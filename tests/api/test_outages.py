"""Outages say so and leave nothing half-made: Temporal or PostgreSQL out of reach answers 503
with a code, a row is never left without its workflow, and a decision the workflow took is
answered as taken even when its view cannot be read."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bank_sim.app import Bank
from cli.dev import find_binary
from core import search_attributes as search
from core.auth import hash_token
from core.db import Database
from core.settings import Settings
from models.states import Role
from rules.calendar import today
from services.sessions import actor_for_token
from tests.api.helpers import call
from tests.api.test_claims import ILLNESS, claimant
from tests.conftest import auth, free_port
from tests.enrollment_setup import ADMIN, carded_members, config_around, fresh_union, put_year
from workflows.claim import claim_workflow_id

YEAR = 2093  # a programme year of this module's own


@pytest.fixture(scope="module")
async def dead_temporal() -> AsyncIterator[Client]:
    """A client of a Temporal server that has stopped."""
    gone = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), dev_server_log_level="error"
    )
    retry = RetryConfig(max_retries=1, initial_interval_millis=50)
    client = await Client.connect(gone.client.service_client.config.target_host, retry_config=retry)
    await gone.shutdown()
    yield client


async def test_temporal_down_leaves_no_row_without_its_workflow(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, settings: Settings, dead_temporal: Client
) -> None:
    await put_year(api, tokens, YEAR, config_around(today(settings.timezone)))
    org, clerk = await fresh_union(api, tokens, "101")
    app = create_app(settings.model_copy(update={"update_timeout_seconds": 1.0}), db=db, temporal=dead_temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as down:
        for url, body in [
            (f"/orgs/{org}/card-batches", {"bank_branch": "工行某支行"}),
            (f"/orgs/{org}/enrollments", {"year": YEAR}),
        ]:
            for _ in range(3):  # and again: nothing was left to block the next attempt
                r = await down.post(url, json=body, headers=auth(clerk))
                assert (r.status_code, r.json()["error"]["code"]) == (503, "temporal_unavailable"), r.text
    assert await call(api, clerk, "GET", f"/orgs/{org}/card-batches", 200) == []
    assert await call(api, clerk, "GET", f"/orgs/{org}/enrollments", 200) == []
    # Temporal back: the same requests succeed, and the batch is fully usable.
    batch = await call(api, clerk, "POST", f"/orgs/{org}/card-batches", 201, json={"bank_branch": "工行某支行"})
    assert "cancel" in batch["actions"]
    cancelled = await call(api, clerk, "POST", f"/card-batches/{batch['id']}/cancel", 200, json={})
    assert cancelled["status"] == "cancelled"
    await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": YEAR})


SIGN_IN_BODIES = {
    ("post", "/session"): {"login": "someone", "password": "a-password"},
    ("post", "/accounts/setup"): {"login": "someone", "setup_code": "code", "password": "a-new-password"},
}


def _unreachable_database() -> Database:
    return Database(f"postgresql://unioncard:x@127.0.0.1:{free_port()}/unioncard")


async def test_database_down_answers_503_on_every_route(
    tokens: dict[str, str], settings: Settings, temporal_client: Client
) -> None:
    app = create_app(settings, db=_unreachable_database(), temporal=temporal_client)
    spec = app.openapi()
    values = {"code": "101-0001", "year": "2025", "member_no": "1010000001", "card_no": "6222880000000000001",
              "workflow_id": "card-batch-1"}  # fmt: skip
    seen = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as down:
        for path, operations in spec["paths"].items():
            url = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "1"), path)
            for method in operations:
                body = SIGN_IN_BODIES.get((method, path), {})  # well-formed, so that they reach the database
                r = await down.request(method.upper(), url, json=body, headers=auth(tokens[ADMIN]))
                if path in ("/health", "/ready", "/bank/callbacks"):
                    assert r.status_code < 500 or r.json()["error"]["code"] == "not_ready", (method, path, r.text)
                    continue
                assert (r.status_code, r.json()["error"]["code"]) == (503, "database_unavailable"), (method, path)
                assert r.headers["retry-after"]
                seen += 1
    assert seen > 60


async def test_a_decision_taken_while_the_database_fails_is_answered_as_taken(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, settings: Settings,
    temporal_client: Client,
) -> None:  # fmt: skip
    day = today(settings.timezone)
    claims_year = config_around(
        day, split=(-95, -90), submission=(-90, -80), deadline=-79, district=(-79, -70), coverage=(-60, 300)
    )
    await put_year(api, tokens, day.year, claims_year)
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=9501)
    body = {**ILLNESS, "event_date": (day - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    assert "approve" in (await call(api, grassroots, "GET", f"/claims/{claim['id']}", 200))["actions"]
    # An API whose database has gone, with the reviewer's token still in its cache.
    app = create_app(settings, db=_unreachable_database(), temporal=temporal_client)
    reviewer = await call(api, grassroots, "GET", "/me", 200)
    with db.session() as session:
        actor = actor_for_token(session, grassroots)
    assert actor.user_id == reviewer["id"] and actor.role is Role.REVIEWER
    app.state.tokens.put(hash_token(grassroots), actor)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as down:
        decision = {"decision": "approve", "step": claim.get("step", 1)}
        r = await down.post(f"/claims/{claim['id']}/review", json=decision, headers=auth(grassroots))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] is True and "请勿重复提交" in r.json()["message"]
    # The workflow moved on (its own write of the step reaches the database later).
    handle = temporal_client.get_workflow_handle(claim_workflow_id(claim["id"]))
    awaiting = (await handle.describe()).typed_search_attributes.get(search.AWAITING)
    assert awaiting not in (None, "", "grassroots_reviewer"), awaiting


async def test_temporal_down_leaves_a_card_as_it_was_when_its_loss_cannot_be_reported(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, settings: Settings, dead_temporal: Client,
    tmp_path: Path,
) -> None:  # fmt: skip
    org, clerk = await fresh_union(api, tokens, "101")
    (member_no,) = await carded_members(api, db, clerk, org, tmp_path, 1, seed=9502)
    card_no = (await call(api, clerk, "GET", f"/orgs/{org}/cards", 200))[0]["card_no"]
    app = create_app(settings, db=db, temporal=dead_temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as down:
        r = await down.post(f"/cards/{card_no}/loss-report", json={"replace": True}, headers=auth(clerk))
    assert (r.status_code, r.json()["error"]["code"]) == (503, "temporal_unavailable"), r.text
    card = await call(api, clerk, "GET", f"/cards/{card_no}", 200)
    assert (card["status"], card["loss"], card["actions"]) == ("issued", None, ["report_loss"])
    assert (await call(api, clerk, "GET", f"/members/{member_no}", 200))["card_status"] == "issued"
    lost = await call(api, clerk, "POST", f"/cards/{card_no}/loss-report", 201, json={"replace": False})
    assert lost["status"] == "lost" and lost["actions"] == ["request_replacement"]
