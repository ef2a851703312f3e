"""Recording workflow histories for the replay test (set UNIONCARD_RECORD_HISTORIES=1 and run the tests)."""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import Client

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def record(client: Client, workflow_id: str, name: str) -> None:
    if not os.environ.get("UNIONCARD_RECORD_HISTORIES"):
        return
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
