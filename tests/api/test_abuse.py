"""Abuse and traces: refused tokens are limited per client address (the count in PostgreSQL, seen
by every API replica), a valid token keeps working, ``X-Forwarded-For`` is believed only from a
trusted proxy; downloads with full ID numbers and phones are audited."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from temporalio.client import Client

from api.app import create_app
from core.db import Database
from core.settings import Settings
from documents.fake_members import HEADERS, member_rows, write_csv
from tests.api.helpers import imported
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


async def _audited(db: Database, entity: tuple[str, str], action: str) -> list[tuple[str, str]]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT actor_name, summary FROM audit_events WHERE entity_type = %s AND entity_id = %s AND action = %s",
            (*entity, action),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


async def test_downloads_with_full_id_numbers_and_phones_are_audited(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    clerk = tokens["clerk@101-0001"]
    rows = list(member_rows(3, seed=9401, phone_base=15_900_000_000))
    rows[2][HEADERS.index("手机号码")] = "12345"
    body = await imported(api, clerk, "101-0001", write_csv(tmp_path / "m.csv", rows))
    assert body["rejected_rows"] == 1
    assert (await api.get(f"/imports/{body['id']}/errors.xlsx", headers=auth(clerk))).status_code == 200
    name = (await api.get("/me", headers=auth(clerk))).json()["name"]
    assert await _audited(db, ("member_import", str(body["id"])), "member_import.errors_downloaded") == [
        (name, "下载错误行（1行，含完整证件号码和手机号码）")
    ]
    # A submitted batch's bank list (written here as the workflow leaves it: the roster reads only rows).
    with db.connect() as conn:
        member_no = conn.execute(
            "SELECT member_no FROM members WHERE id_number = %s", (rows[0][HEADERS.index("证件号码")],)
        ).fetchone()[0]  # type: ignore[index]
        batch_id = conn.execute(
            """INSERT INTO card_batches (org_id, district_code, channel, bank_branch, status, batch_no, workflow_id,
                   created_by, members, passed, failed, issued, rejected, overdue, created_at, updated_at)
               SELECT o.id, '101', 'normal', '工行某支行', 'submitted', %s, 'card-batch-none', u.id, 1, 1, 0, 0, 0,
                   false, now(), now()
               FROM organisations o JOIN users u ON u.org_id = o.id WHERE o.code = '101-0001' LIMIT 1
               RETURNING id""",
            (f"101{uuid.uuid4().int % 10**12:012d}",),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO card_batch_members (batch_id, member_no, \"check\") VALUES (%s, %s, 'passed')",
            (batch_id, member_no),
        )
    r = await api.get(f"/card-batches/{batch_id}/roster.xlsx", headers=auth(clerk))
    assert r.status_code == 200, r.text
    assert await _audited(db, ("card_batch", str(batch_id)), "card_batch.roster_downloaded") == [
        (name, "下载清册（1人，含完整证件号码和手机号码）")
    ]
