"""Temporal stores only ciphertext: a real flow's history read without the codec holds no ID
number, name or phone, the service's clients and the replayer decode it, and the codec endpoint
decodes it for admins only (the web UI's CORS included)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from bank_sim.app import Bank, BankConfig
from cli.dev import find_binary
from core.codec import ENCODING
from core.db import Database
from documents.fake_members import HEADERS, member_rows, write_csv
from tests.api.helpers import call, imported
from tests.conftest import CODEC, CONVERTER, auth
from tests.workflows.recording import decoded, sanitise
from workflows.registry import WORKFLOWS, sandbox_runner

CLERK, ORG = "clerk@101-S01-0001", "101-S01-0001"
ADMIN = "admin@SH"
UI = "http://localhost:8233"


def forms(secret: str) -> list[bytes]:
    """How a value can sit in a payload or a message: UTF-8, or JSON with escaped characters."""
    return [secret.encode(), json.dumps(secret).strip('"').encode()]


def found(blob: bytes, secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(f in blob for f in forms(s))]


def serialized(history: WorkflowHistory) -> bytes:
    return b"".join(e.SerializeToString() for e in history.events)


async def raw_history(temporal_client: Client, workflow_id: str) -> WorkflowHistory:
    """The history as Temporal stores it, read by a client without the codec."""
    plain = await Client.connect(temporal_client.service_client.config.target_host)
    assert plain.data_converter.payload_codec is None
    return await plain.get_workflow_handle(workflow_id).fetch_history()


def replayer(converter: DataConverter) -> Replayer:
    return Replayer(workflows=WORKFLOWS, workflow_runner=sandbox_runner(), data_converter=converter)


@dataclass
class Person:
    name: str
    id_number: str
    phone: str


@activity.defn(name="codec_probe_greet")
async def greet(person: Person) -> str:
    return f"{person.name}（{person.phone}）已登记"


@activity.defn(name="codec_probe_verify")
async def verify(person: Person) -> None:
    raise ApplicationError(f"证件 {person.id_number} 与手机 {person.phone} 不符", non_retryable=True)


@workflow.defn(name="CodecProbe", sandboxed=False)
class CodecProbe:
    """Personal data through every kind of payload: input, activity input and result, memo,
    an activity's failure and the workflow's own failure."""

    @workflow.run
    async def run(self, person: Person) -> str:
        timeout = timedelta(seconds=10)
        greeting = await workflow.execute_activity(greet, person, start_to_close_timeout=timeout)
        try:
            await workflow.execute_activity(verify, person, start_to_close_timeout=timeout)
        except Exception:
            raise ApplicationError(f"{greeting}，核验未通过：{person.name}", non_retryable=True) from None
        return greeting


async def test_no_personal_data_of_a_workflow_is_stored_in_clear(temporal_client: Client) -> None:
    person = Person(name="欧阳明珠", id_number="11010119900307123X", phone="13987654321")
    secrets = [person.name, person.id_number, person.phone]
    queue = f"probe-{uuid.uuid4().hex[:6]}"
    async with Worker(
        temporal_client,
        task_queue=queue,
        workflows=[CodecProbe],
        activities=[greet, verify],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await temporal_client.start_workflow(
            CodecProbe.run, person, id=f"codec-probe-{queue}", task_queue=queue, memo={"person": person.name}
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    # The codec's client reads everything back.
    assert person.name in str(failed.value.cause)
    assert await (await handle.describe()).memo() == {"person": person.name}
    raw = await raw_history(temporal_client, handle.id)
    blob = serialized(raw)
    assert found(blob, secrets) == []
    assert blob.count(ENCODING) >= 6  # input, two activity inputs, a result, memo, failures
    assert b"Encoded failure" in blob and b"Traceback" not in blob and b"test_codec.py" not in blob
    clear = serialized(await decoded(raw, CODEC))
    assert found(clear, secrets) == secrets


async def batch_with_revocation(api: httpx.AsyncClient, token: str, db: Database, rows: list[list[str]]) -> int:
    ids = [r[HEADERS.index("证件号码")] for r in rows]
    with db.connect() as conn:
        nos = [r[0] for r in conn.execute("SELECT member_no FROM members WHERE id_number = ANY(%s)", (ids,))]
    assert len(nos) == len(ids)
    body = {"channel": "normal", "bank_branch": "工行人民广场支行"}
    batch = await call(api, token, "POST", f"/orgs/{ORG}/card-batches", 201, json=body)
    url = f"/card-batches/{batch['id']}"
    await call(api, token, "POST", f"{url}/members", 200, json={"member_nos": nos})
    await call(api, token, "POST", f"{url}/validate", 200)
    await call(api, token, "POST", f"{url}/submit", 200)
    revocation = {"applicant_name": "司马经办", "applicant_phone": "13911112222", "reason": "网点选错"}
    view = await call(api, token, "POST", f"{url}/revocation", 200, json=revocation)
    assert view["status"] == "revocation_requested"
    return int(batch["id"])


async def test_a_card_batch_history_holds_no_personal_data_and_the_codec_endpoint_reveals_it(
    api: httpx.AsyncClient,
    live_api: str,
    bank: Bank,
    tokens: dict[str, str],
    db: Database,
    tmp_path: Path,
    temporal_client: Client,
) -> None:
    bank.config = BankConfig(delay_seconds=0.1, hold=True)  # the batch waits for the bank
    rows = list(member_rows(3, seed=7401, phone_base=17_400_000_000))
    await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    try:
        batch_id = await batch_with_revocation(api, tokens[CLERK], db, rows)
    finally:
        bank.config = BankConfig(delay_seconds=0.1)
    clerk_name = (await call(api, tokens[CLERK], "GET", "/me", 200))["name"]
    columns = [HEADERS.index(h) for h in ("姓名", "证件号码", "手机号码")]
    secrets = [r[c] for r in rows for c in columns] + ["司马经办", "13911112222", clerk_name]
    workflow_id = f"card-batch-{batch_id}"

    raw = await raw_history(temporal_client, workflow_id)
    blob = serialized(raw)
    assert found(blob, secrets) == []
    assert f'"{ORG}"'.encode() in blob  # search attributes stay readable (and carry no personal data)
    clear = await decoded(raw, CODEC)
    assert found(serialized(clear), secrets) == [clerk_name]  # the actor's name is the only person in it

    # Replaying the history as stored needs the key; as recorded for the replay test (decoded), not.
    await replayer(CONVERTER).replay_workflow(raw)
    with pytest.raises(Exception):  # noqa: B017  (without the key nothing decodes, whatever the error)
        await replayer(DataConverter.default).replay_workflow(raw)
    await replayer(DataConverter.default).replay_workflow(
        WorkflowHistory.from_json(workflow_id, sanitise(clear.to_json()))
    )

    # An admin reads it decoded with the Temporal CLI through the codec endpoint; a clerk cannot.
    admin_view = await show_with_codec(temporal_client, live_api, workflow_id, tokens[ADMIN])
    assert admin_view.returncode == 0, admin_view.stderr
    shown = WorkflowHistory.from_json(workflow_id, admin_view.stdout)
    assert found(serialized(shown), secrets) == [clerk_name]
    clerk_view = await show_with_codec(temporal_client, live_api, workflow_id, tokens[CLERK])
    assert clerk_view.returncode != 0  # the CLI gives up on a codec that refuses
    assert found((clerk_view.stdout + clerk_view.stderr).encode(), secrets) == []


async def show_with_codec(client: Client, api_url: str, workflow_id: str, token: str) -> CompletedProcess[str]:
    """``temporal workflow show`` as an operator runs it, decoding through the API's codec endpoint."""
    args = [
        find_binary("temporal"),
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "--address",
        client.service_client.config.target_host,
        "--codec-endpoint",
        f"{api_url}/codec",
        "--codec-auth",
        f"Bearer {token}",
        "--output",
        "json",
        "--command-timeout",
        "10s",
    ]
    return await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, timeout=60, check=False)


def payloads_body(*payloads: Payload) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def from_body(body: dict[str, Any]) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in body["payloads"]]


async def test_the_codec_endpoint_is_for_admins(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    original = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"name": "欧阳明珠"}).encode())

    (sealed,) = await CODEC.encode([original])
    body = payloads_body(sealed)
    headers = {"Origin": UI, "X-Namespace": "default"}

    r = await api.post("/codec/decode", json=body, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_token"
    assert r.headers["access-control-allow-origin"] == UI
    assert from_body(r.json()) == [sealed]  # handed back untouched: the UI keeps showing them encrypted
    r = await api.post("/codec/decode", json=body, headers={**headers, **auth(tokens[CLERK])})
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"
    assert from_body(r.json()) == [sealed]

    admin = {**headers, **auth(tokens[ADMIN])}
    r = await api.post("/codec/decode", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == UI
    assert from_body(r.json()) == [original]

    r = await api.post("/codec/encode", json=payloads_body(original), headers=admin)
    assert r.status_code == 200, r.text
    (encoded,) = from_body(r.json())
    assert encoded.metadata["encoding"] == ENCODING and "欧阳".encode() not in encoded.data
    assert await CODEC.decode([encoded]) == [original]
    r = await api.post("/codec/encode", json=payloads_body(original), headers={**headers, **auth(tokens[CLERK])})
    assert r.status_code == 403

    clear = Payload(metadata={"encoding": b"json/plain"}, data=b'"101"')
    r = await api.post("/codec/decode", json=payloads_body(clear), headers=admin)
    assert from_body(r.json()) == [clear]
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    r = await api.post("/codec/decode", json=payloads_body(tampered), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "undecodable_payload"
    r = await api.post("/codec/decode", json=body, headers={**admin, "X-Namespace": "other"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_namespace"
    r = await api.post("/codec/decode", content=b"not json", headers=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_payloads"
    r = await api.post("/codec/decode", json=body, headers={**admin, "Origin": "http://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


async def test_the_web_ui_decodes_for_an_admin_signed_in_by_cookie(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """The UI cannot send a bearer token; with "include cross-origin credentials" it sends the
    cookie the sign-in page set, for /codec only."""
    original = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"name": "欧阳明珠"}).encode())
    (sealed,) = await CODEC.encode([original])
    ui = {"Origin": UI, "X-Namespace": "default"}
    page = await api.get("/codec/sign-in")
    assert page.status_code == 200 and 'name="token"' in page.text
    refused = await api.post("/codec/sign-in", data={"token": tokens[CLERK]})
    assert refused.status_code == 403 and "unioncard_codec" not in refused.headers.get("set-cookie", "")
    api.cookies.clear()
    signed = await api.post("/codec/sign-in", data={"token": tokens[ADMIN]})
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/codec" in cookie and "SameSite=lax" in cookie
    r = await api.post("/codec/decode", json=payloads_body(sealed), headers=ui)  # the cookie, no Authorization
    assert r.status_code == 200, r.text
    assert from_body(r.json()) == [original]
    assert r.headers["access-control-allow-credentials"] == "true" and r.headers["access-control-allow-origin"] == UI
    assert (await api.get("/tasks", headers=ui)).status_code == 401  # the cookie opens /codec only
    assert (await api.post("/codec/sign-out")).status_code == 204
    api.cookies.clear()
    r = await api.post("/codec/decode", json=payloads_body(sealed), headers=ui)
    assert r.status_code == 401 and from_body(r.json()) == [sealed]


async def test_the_codec_endpoint_answers_the_ui_preflight(api: httpx.AsyncClient) -> None:
    ask = {
        "Origin": "http://127.0.0.1:8233",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    for path in ("/codec/decode", "/codec/encode"):
        r = await api.options(path, headers=ask)
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        assert "POST" in r.headers["access-control-allow-methods"]
        allowed = r.headers["access-control-allow-headers"].lower()
        assert all(h in allowed for h in ("authorization", "content-type", "x-namespace"))
    r = await api.options("/codec/decode", headers={**ask, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
