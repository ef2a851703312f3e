"""Servers for the tests: PostgreSQL (TEST_DATABASE_URL or a throwaway embedded cluster) and a
Temporal dev server from the `temporal` binary, both once per session."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bank_sim.app import Bank, BankConfig, create_bank_app
from cli.demo import seed_demo
from cli.dev import find_binary
from core.codec import EncryptionCodec, data_converter
from core.db import Database, migrate, psycopg_url, start_embedded_postgres, with_database
from core.settings import Settings
from core.temporal import register_search_attributes
from worker import ActivitySet, build_worker

# The tests' codec key (a fixed one: nothing secret is encrypted with it). Every client of the
# tests encrypts with it, as the service's do with theirs.
CODEC_KEYS = "test1:dGVzdC1rZXktb2YtdGhlLXVuaW9uY2FyZC10ZXN0cyE="
CODEC = EncryptionCodec.from_spec(CODEC_KEYS)
CONVERTER = data_converter(CODEC)


@pytest.fixture(scope="session", autouse=True)
def codec_keys_of_child_processes() -> Iterator[None]:
    """Workers and APIs that tests start as processes (`unioncard worker`) use the tests' key too."""
    before = os.environ.get("UNIONCARD_CODEC_KEYS")
    os.environ["UNIONCARD_CODEC_KEYS"] = CODEC_KEYS
    yield
    if before is None:
        os.environ.pop("UNIONCARD_CODEC_KEYS", None)
    else:
        os.environ["UNIONCARD_CODEC_KEYS"] = before


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield psycopg_url(url)
        return
    # A short path: PostgreSQL's socket path must stay under ~100 characters.
    data = Path(f"/tmp/uc-pg-{uuid.uuid4().hex[:8]}")
    yield start_embedded_postgres(data)
    shutil.rmtree(data, ignore_errors=True)


def fresh_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def db_url(pg_server: str) -> str:
    return fresh_database(pg_server, "unioncard_test")


@pytest.fixture(scope="session")
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def tokens(db: Database, data_dir: Path) -> dict[str, str]:
    """Demo users' tokens keyed by ``role@org``."""
    with db.session() as session:
        seeded = seed_demo(session, data_dir / "demo-tokens.json")
    return {f"{t['role']}@{t['org']}": t["token"] for t in seeded}


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), dev_server_log_level="error", data_converter=CONVERTER
    )
    await register_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before in this run: the kernel may offer a port it
    just gave, and two servers of one test (or a session server) must not get the same one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@pytest.fixture(scope="session")
def ports() -> dict[str, int]:
    return {"api": free_port(), "bank": free_port()}


@pytest.fixture(scope="session")
def settings(db_url: str, data_dir: Path, temporal_env: WorkflowEnvironment, ports: dict[str, int]) -> Settings:
    return Settings(
        bank_url=f"http://127.0.0.1:{ports['bank']}",
        callback_url=f"http://127.0.0.1:{ports['api']}/bank/callbacks",
        bank_secret="test-secret",
        database_url=db_url,
        data_dir=data_dir,
        task_queue=f"test-{uuid.uuid4().hex[:6]}",
        temporal_address=temporal_env.client.service_client.config.target_host,
        import_chunk_rows=50,
        import_slice_chunks=3,
        import_processes=2,
        import_wait_seconds=30,
        log_json=True,
        codec_keys=CODEC_KEYS,
    )


@pytest.fixture(scope="session")
async def worker(temporal_env: WorkflowEnvironment, db: Database, settings: Settings) -> AsyncIterator[None]:
    activities = ActivitySet(db, settings)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(temporal_env.client, settings, executor, activities):
            yield
    activities.close()


@pytest.fixture(scope="session")
async def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
async def api(
    settings: Settings, db: Database, temporal_client: Client, worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=db, temporal=temporal_client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as client:
        yield client


async def serve(app: Any, port: int) -> AsyncIterator[None]:
    """Serve an ASGI app on a real port inside the test loop (the bank calls the API back over HTTP)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def bank(settings: Settings, ports: dict[str, int]) -> AsyncIterator[Bank]:
    """The bank simulator on its own port; tests set its behaviour through ``bank.config``."""
    app = create_bank_app(settings.bank_secret, BankConfig(delay_seconds=0.1))
    async for _ in serve(app, ports["bank"]):
        yield app.state.bank


@pytest.fixture(scope="session")
async def live_api(
    settings: Settings, db: Database, temporal_client: Client, worker: None, ports: dict[str, int]
) -> AsyncIterator[str]:
    app = create_app(settings, db=db, temporal=temporal_client)
    async for _ in serve(app, ports["api"]):
        yield f"http://127.0.0.1:{ports['api']}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
