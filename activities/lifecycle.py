"""Projecting a workflow's transition: the row's status and what it waits for, plus one audit row."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from temporalio import activity

from core.db import Database
from core.metrics import BusinessMetrics
from workflows.common import Step

# entity -> (table, key column, whether the table tracks who is awaited)
_TABLES: dict[str, tuple[str, str, bool]] = {
    "enrollment": ("enrollments", "id", True),
    "district_filing": ("district_filings", "id", False),
    "registration": ("registrations", "id", False),
    "card_loss": ("card_losses", "card_no", False),
    "claim": ("claims", "id", True),
}


def _typed(column: str, key: str) -> int | str:
    """The key as its column's type, so that the lookup uses the primary key's index."""
    return int(key) if column == "id" else key


def audit_row(
    conn: psycopg.Connection,
    entity: str,
    key: str,
    action: str,
    states: tuple[str | None, str | None],
    actor: tuple[int | None, str],
    summary: str,
    step_no: int | None = None,
) -> bool:
    """An audit row for ``entity`` ``key``, with the organisation its row belongs to. A row with a
    ``step_no`` (a workflow's transition) is written once: a projection run again after a worker
    was lost finds it there. True when the row was written now."""
    table, column, _ = _TABLES[entity]
    written = conn.execute(
        f"""INSERT INTO audit_events (at, actor_id, actor_name, org_id, action, entity_type, entity_id,
                                      from_state, to_state, summary, step_no)
            SELECT %s, %s, %s, org_id, %s, %s, %s, %s, %s, %s, %s FROM {table} WHERE {column} = %s
            ON CONFLICT (entity_type, entity_id, step_no) WHERE step_no IS NOT NULL DO NOTHING""",
        (
            datetime.now(UTC),
            actor[0],
            actor[1],
            action,
            entity,
            key,
            states[0],
            states[1],
            summary[:500],
            step_no,
            _typed(column, key),
        ),
    ).rowcount
    return written > 0


class LifecycleActivities:
    def __init__(self, db: Database, metrics: BusinessMetrics | None = None) -> None:
        self.db = db
        self.metrics = metrics or BusinessMetrics()

    @activity.defn(name="project_step")
    def project_step(self, step: Step) -> None:
        table, column, tracks_awaiting = _TABLES[step.entity]
        key = _typed(column, step.key)
        with self.db.connect() as conn, conn.transaction():
            if tracks_awaiting:
                conn.execute(
                    f"""UPDATE {table} SET status = %s, awaiting = %s, updated_at = now(),
                               awaiting_org_id = (SELECT id FROM organisations WHERE code = %s),
                               return_reason = CASE WHEN %s = 'return_' THEN %s ELSE return_reason END
                        WHERE {column} = %s""",
                    (step.to_status, step.awaiting, step.awaiting_org, step.event, step.reason, key),
                )
            else:
                conn.execute(
                    f"UPDATE {table} SET status = %s, updated_at = now() WHERE {column} = %s",
                    (step.to_status, key),
                )
            first = audit_row(
                conn,
                step.entity,
                step.key,
                f"{step.entity}.{step.event.rstrip('_')}",
                (step.from_status, step.to_status),
                (step.actor_id, step.actor_name),
                step.reason or "",
                step.step_no or None,
            )
            # A numbered step's audit row is written the first time only: the event is counted then.
            first = first and bool(step.step_no) and step.from_status != step.to_status
            paid = _paid_claim(conn, step) if first else None
        if first:
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
