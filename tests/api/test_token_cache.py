"""Looked-up tokens are kept for a while (no database round trip per request): a deactivated user
is refused once the entry ends, at once where the cache is off; a refused token is never kept."""

from __future__ import annotations

import asyncio
import time

import httpx
from temporalio.client import Client

from api.app import create_app
from api.deps import TokenCache
from core.auth import Actor
from core.db import Database
from core.settings import Settings
from models.states import Role
from services.accounts import create_user
from tests.conftest import auth


def test_an_entry_ends_after_its_time_and_the_cache_can_be_off() -> None:
    actor = Actor(user_id=1, name="经办人", role=Role.CLERK, org_id=1, org_code="101", org_path="/1/")
    cache = TokenCache(0.2)
    cache.put("h", actor)
    assert cache.get("h") == actor and cache.get("other") is None
    time.sleep(0.25)
    assert cache.get("h") is None
    off = TokenCache(0)
    off.put("h", actor)
    assert off.get("h") is None
    small = TokenCache(60, size=2)
    for key in ("a", "b", "c"):
        small.put(key, actor)
    assert small.get("c") == actor and len(small._actors) <= 2


def _new_clerk(db: Database) -> tuple[int, str]:
    """A clerk of a demo union (the ``tokens`` fixture seeds them)."""
    with db.session() as session:
        user, token = create_user(session, name="临时经办人", org_code="101-S01-0001", role=Role.CLERK)
        session.commit()
        return user.id or 0, token


def _deactivate(db: Database, user_id: int) -> None:
    with db.connect() as conn:
        conn.execute("UPDATE users SET active = false WHERE id = %s", (user_id,))


async def test_a_deactivated_user_is_refused_when_the_entry_ends(
    settings: Settings, db: Database, temporal_client: Client, tokens: dict[str, str]
) -> None:
    user_id, token = _new_clerk(db)
    cached = settings.model_copy(update={"token_cache_seconds": 0.3})
    app = create_app(cached, db=db, temporal=temporal_client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
        assert (await api.get("/me", headers=auth(token))).status_code == 200
        _deactivate(db, user_id)
        assert (await api.get("/me", headers=auth(token))).status_code == 200  # still within its entry
        await asyncio.sleep(0.35)
        refused = await api.get("/me", headers=auth(token))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
        assert (await api.get("/me", headers=auth("uc_not_a_token"))).status_code == 401
        assert (await api.get("/me", headers=auth("uc_not_a_token"))).status_code == 401  # never kept


async def test_without_the_cache_a_deactivated_user_is_refused_at_once(
    settings: Settings, db: Database, temporal_client: Client, tokens: dict[str, str]
) -> None:
    user_id, token = _new_clerk(db)
    app = create_app(settings.model_copy(update={"token_cache_seconds": 0}), db=db, temporal=temporal_client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
        assert (await api.get("/me", headers=auth(token))).status_code == 200
        _deactivate(db, user_id)
        assert (await api.get("/me", headers=auth(token))).status_code == 401
