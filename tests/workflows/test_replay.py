"""Determinism guard: recorded histories of every workflow type replay against the current code,
so a change that would break running workflows fails here."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.workflows.recording import HISTORIES
from workflows.registry import WORKFLOWS, sandbox_runner

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_every_workflow_type_has_a_recorded_history() -> None:
    types = {p.stem.split("--")[0] for p in RECORDED}
    assert types >= {w.__name__ for w in WORKFLOWS}, types


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_history_replays(path: object) -> None:
    assert hasattr(path, "read_text")
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    await Replayer(workflows=WORKFLOWS, workflow_runner=sandbox_runner()).replay_workflow(history)
