"""Projecting a workflow's step onto the database: the entity's row (status, who is awaited) and
one audit row. Used by the projection activity and by the API, which writes a reviewer's step
before it answers (whichever comes first writes it; the other finds it there)."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from activities.failures import storable
from workflows.common import Step

# entity -> (table, key column, whether the table tracks who is awaited). Every table remembers the
# last step projected onto a row (``last_step``): steps may be written out of order (a reviewer's
# step by the API and later by its workflow), and an older step never overwrites a newer one.
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
    at: datetime | None = None,
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
            at or datetime.now(UTC),
            actor[0],
            actor[1],
            action,
            entity,
            key,
            states[0],
            states[1],
            storable(summary)[:500],
            step_no,
            _typed(column, key),
        ),
    ).rowcount
    return written > 0


def project(conn: psycopg.Connection, step: Step) -> bool:
    """Write ``step`` onto its entity's row (status, who is awaited) and its audit row, in the
    caller's transaction. Idempotent: a numbered step's audit row is written once, and a step older
    than the last one projected leaves the row as it is. True when this was the
    step's first projection and it changed the status (what business counters count)."""
    table, column, tracks_awaiting = _TABLES[step.entity]
    sets, values = ["status = %s", "updated_at = now()"], list[object]([step.to_status])
    if tracks_awaiting:
        sets += [
            "awaiting = %s",
            "awaiting_org_id = (SELECT id FROM organisations WHERE code = %s)",
            "return_reason = CASE WHEN %s = 'return_' THEN %s ELSE return_reason END",
        ]
        values += [step.awaiting, step.awaiting_org, step.event, storable(step.reason or "") or None]
    where, keys = f"{column} = %s", list[object]([_typed(column, step.key)])
    if step.step_no:
        sets.append("last_step = %s")
        values.append(step.step_no)
        where += " AND last_step < %s"
        keys.append(step.step_no)
    conn.execute(f"UPDATE {table} SET {', '.join(sets)} WHERE {where}", (*values, *keys))
    first = audit_row(
        conn,
        step.entity,
        step.key,
        f"{step.entity}.{step.event.rstrip('_')}",
        (step.from_status, step.to_status),
        (step.actor_id, step.actor_name),
        step.reason or "",
        step.step_no or None,
        step.at,
    )
    # A numbered step's audit row is written the first time only: the event is counted then.
    return first and bool(step.step_no) and step.from_status != step.to_status
