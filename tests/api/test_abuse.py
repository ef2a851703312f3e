"""Abuse and traces: refused tokens are limited per client address (the count in PostgreSQL, seen
by every API replica), a valid token keeps working, ``X-Forwarded-For`` is believed only from a
trusted proxy; downloads with full ID numbers and phones are audited."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from temporalio.client import Client

from api.app import create_app
from core.db import Database
from core.settings import Settings
from tests.conftest import auth

LIMIT = 20


@asynccontextmanager
async def replica(
    settings: Settings, db: Database, temporal: Client, peer: str, **changes: object
) -> AsyncIterator[httpx.AsyncClient]:
    """An API process of its own, reached from ``peer``."""
    app = create_app(settings.model_copy(update=changes), db=db, temporal=temporal)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
        yield client


def _address() -> str:
    """A client address no other test uses (TEST-NET-3 with a random last part)."""
    return f"203.0.113.{uuid.uuid4().int % 250 + 1}"


async def test_bad_tokens_are_limited_per_address_across_replicas_and_the_real_token_works(
    settings: Settings, db: Database, temporal_client: Client, tokens: dict[str, str]
) -> None:
    peer = _address()
    async with (
        replica(settings, db, temporal_client, peer) as one,
        replica(settings, db, temporal_client, peer) as two,
    ):
        answers = []
        for i in range(LIMIT + 10):
            r = await (one if i % 2 else two).get("/me", headers=auth(f"uc_not-a-token-{i}"))
            answers.append(r.status_code)
            if r.status_code == 429:
                error = r.json()["error"]
                assert error["code"] == "too_many_attempts" and "秒后再试" in error["message"]
                assert 1 <= int(r.headers["retry-after"]) <= 60
        assert answers[:LIMIT] == [401] * LIMIT and answers[LIMIT:] == [429] * 10, answers
        # the real token, from the same address, on both replicas (each looks it up in the database)
        for api in (one, two):
            assert (await api.get("/me", headers=auth(tokens["clerk@101-0001"]))).status_code == 200
    async with replica(settings, db, temporal_client, _address()) as elsewhere:  # another address is not limited
        assert (await elsewhere.get("/me", headers=auth("uc_wrong"))).status_code == 401


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    settings: Settings, db: Database, temporal_client: Client
) -> None:
    proxy, caller = "10.9.8.7", _address()
    async with replica(settings, db, temporal_client, proxy, trusted_proxies="10.9.8.0/24") as behind:
        for _ in range(LIMIT):
            r = await behind.get("/me", headers={**auth("uc_x"), "X-Forwarded-For": f"1.2.3.4, {caller}"})
            assert r.status_code == 401
        r = await behind.get("/me", headers={**auth("uc_x"), "X-Forwarded-For": caller})
        assert r.status_code == 429  # the caller is limited: the address before it was theirs to invent
        other = await behind.get("/me", headers={**auth("uc_x"), "X-Forwarded-For": _address()})
        assert other.status_code == 401  # another caller behind the same proxy is not
    # Without the proxy trusted, the header is the caller's own invention: the peer is counted.
    peer = _address()
    async with replica(settings, db, temporal_client, peer) as direct:
        for i in range(LIMIT):
            headers = {**auth("uc_x"), "X-Forwarded-For": f"198.51.100.{i + 1}"}
            assert (await direct.get("/me", headers=headers)).status_code == 401
        r = await direct.get("/me", headers={**auth("uc_x"), "X-Forwarded-For": "198.51.100.99"})
        assert r.status_code == 429
