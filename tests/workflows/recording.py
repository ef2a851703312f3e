"""Recording workflow histories for the replay test (set UNIONCARD_RECORD_HISTORIES=1 and run the tests).

Histories are stored decoded: readable, and replayable whatever key recorded them (the codec lets
clear payloads through). ``transform_payloads`` walks every payload of a history, for that and
for the tests that look at what Temporal stores.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def record(client: Client, workflow_id: str, name: str) -> None:
    if not os.environ.get("UNIONCARD_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    codec = client.data_converter.payload_codec
    if codec is not None:
        history = await decoded(history, codec)
    (HISTORIES / f"{name}.json").write_text(sanitise(history.to_json()), encoding="utf-8")


PayloadFn = Callable[[Payload], Awaitable[Payload]]


async def transform_payloads(message: Message, fn: PayloadFn, skip: frozenset[str] = frozenset()) -> None:
    """Replace, in place, every payload inside ``message`` by ``fn(payload)``, except inside
    messages whose full name is in ``skip``."""
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        entry = field.message_type
        assert entry is not None
        if entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE:
                continue
            items = list(value.values())
        else:
            items = list(value) if field.is_repeated else [value]
        for item in items:
            name = item.DESCRIPTOR.full_name
            if name in skip:
                continue
            if name == Payload.DESCRIPTOR.full_name:
                item.CopyFrom(await fn(item))
            else:
                await transform_payloads(item, fn, skip)
                if name == Failure.DESCRIPTOR.full_name:
                    _unpack_failure(item)


def _unpack_failure(failure: Any) -> None:
    """A decoded failure's message and stack trace back in their own fields."""
    if not failure.HasField("encoded_attributes"):
        return
    attrs = failure.encoded_attributes
    if attrs.metadata.get("encoding") != b"json/plain":
        return  # still encrypted
    clear = json.loads(attrs.data)
    failure.message = clear.get("message", "")
    failure.stack_trace = clear.get("stack_trace", "")
    failure.ClearField("encoded_attributes")


async def decoded(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """A copy of ``history`` with every payload decoded by ``codec``."""

    async def decode(payload: Payload) -> Payload:
        return (await codec.decode([payload]))[0]

    events = [type(e).FromString(e.SerializeToString()) for e in history.events]
    for event in events:
        await transform_payloads(event, decode)
    return WorkflowHistory(history.workflow_id, events)


def sanitise(text: str) -> str:
    """Drop what says where the history was recorded (stack traces, worker identities):
    replay needs neither."""
    data = json.loads(text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ("" if k == "stackTrace" else "worker" if k == "identity" else walk(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return re.sub(r"\b\d+@[\w.-]+", "worker", json.dumps(walk(data), indent=1, ensure_ascii=False))
