"""The baseline of the claims benchmark: a workflow whose update answers at once (its own module,
so the workflow sandbox imports nothing but Temporal)."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow


@dataclass
class Ping:
    n: int


@workflow.defn
class TrivialWorkflow:
    """The baseline: an update that answers at once."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    async def ping(self, p: Ping) -> int:
        return p.n

    @workflow.signal
    def stop(self) -> None:
        self.done = True
