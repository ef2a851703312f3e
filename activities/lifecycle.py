"""The projection activity: a workflow's transition onto the database, counted once."""

from __future__ import annotations

import psycopg
from temporalio import activity

from activities.projection import project
from core.db import Database
from core.metrics import BusinessMetrics
from workflows.common import Step


class LifecycleActivities:
    def __init__(self, db: Database, metrics: BusinessMetrics | None = None) -> None:
        self.db = db
        self.metrics = metrics or BusinessMetrics()

    @activity.defn(name="project_step")
    def project_step(self, step: Step) -> None:
        """One step (a workflow's own transition; the name recorded histories carry)."""
        self.project_steps([step])

    @activity.defn(name="project_steps")
    def project_steps(self, steps: list[Step]) -> None:
        """Several steps in order in one transaction (steps the API may have written already)."""
        counted: list[tuple[Step, tuple[str, int] | None]] = []
        with self.db.connect() as conn, conn.transaction():
            for step in steps:
                if project(conn, step):
                    counted.append((step, _paid_claim(conn, step)))
        for step, paid in counted:
            self._count(step, paid)

    def _count(self, step: Step, paid: tuple[str, int] | None) -> None:
        if (step.entity, step.to_status) == ("enrollment", "failed_unpaid"):
            self.metrics.enrollments_failed_unpaid.inc()
        if paid is not None:
            self.metrics.claim_paid(*paid)


def _paid_claim(conn: psycopg.Connection, step: Step) -> tuple[str, int] | None:
    """The kind and amount (fen) of the claim ``step`` pays, if it pays one."""
    if (step.entity, step.to_status) != ("claim", "paid"):
        return None
    row = conn.execute("SELECT kind, amount_fen FROM claims WHERE id = %s", (int(step.key),)).fetchone()
    return (str(row[0]), int(row[1])) if row else None
