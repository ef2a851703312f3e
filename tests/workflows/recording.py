"""Recording workflow histories for the replay test (set UNIONCARD_RECORD_HISTORIES=1 and run the tests)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from temporalio.client import Client

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def record(client: Client, workflow_id: str, name: str) -> None:
    if not os.environ.get("UNIONCARD_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HISTORIES / f"{name}.json").write_text(sanitise(history.to_json()), encoding="utf-8")


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
