"""Determinism guard: recorded histories of every workflow type replay against the current code,
so a change that would break running workflows fails here. The replayer decodes as the worker
does; the recordings are stored decoded and pass through the codec (tests/api/test_codec.py
replays a history as Temporal stores it, encrypted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.conftest import CONVERTER
from tests.workflows.recording import HISTORIES
from workflows.registry import WORKFLOWS, sandbox_runner

RECORDED = sorted(HISTORIES.glob("*.json"))


def test_every_workflow_type_has_a_recorded_history() -> None:
    types = {p.stem.split("--")[0] for p in RECORDED}
    assert types >= {w.__name__ for w in WORKFLOWS}, types


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await Replayer(workflows=WORKFLOWS, workflow_runner=sandbox_runner(), data_converter=CONVERTER).replay_workflow(
        history
    )
