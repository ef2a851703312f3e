"""What a workflow an admin cancelled or terminated leaves behind, put right by the repair.

A terminated workflow runs no more code, and the workflows do not catch a cancellation: neither
writes its own ending. So the repair ends the row the workflow drove (a batch or an enrollment
``cancelled``, a claim ``closed``, awaiting nobody), releases the members a card batch held
(their card status back from ``pending`` to ``none``, so that another batch may take them), and
appends one audit row saying who stopped it and why. A row already in a final status keeps it;
entities without a status to end in (a district filing, a registration, a card loss) get the
audit row only. Member imports end through ``activities.import_outcome``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from activities.card_batch import RELEASE_MEMBERS_SQL
from core.auth import Actor


@dataclass(frozen=True)
class _Entity:
    table: str
    entity: str  # the audit rows' entity type
    key: str  # the column the audit rows are keyed by
    ends_in: str | None  # the status a stopped workflow's row ends in
    final: tuple[str, ...] = ()  # statuses left as they are
    awaiting: bool = False  # the table tracks who is awaited


_ENTITIES = (
    _Entity("card_batches", "card_batch", "id", "cancelled", ("issued", "revoked", "cancelled")),
    _Entity(
        "enrollments", "enrollment", "id", "cancelled", ("completed", "expired", "failed_unpaid", "cancelled"), True
    ),
    _Entity("claims", "claim", "id", "closed", ("rejected", "paid", "closed"), True),
    _Entity("district_filings", "district_filing", "id", None),
    _Entity("registrations", "registration", "id", None),
    _Entity("card_losses", "card_loss", "card_no", None),
)
_VERBS = {"cancel": ("取消", "cancelled"), "terminate": ("终止", "terminated")}


def end_stopped_workflow(conn: Connection, actor: Actor, workflow_id: str, action: str, reason: str) -> str | None:
    """End the row ``workflow_id`` drove (in the caller's transaction); the audit entity it was,
    or None when no row belongs to the workflow or the action stops nothing."""
    if action not in _VERBS:
        return None
    for e in _ENTITIES:
        row = conn.exec_driver_sql(
            f"SELECT {e.key}, status, org_id FROM {e.table} WHERE workflow_id = %s FOR UPDATE", (workflow_id,)
        ).first()
        if row is None:
            continue
        key, before, org_id = str(row[0]), str(row[1]), row[2]
        after = before if e.ends_in is None or before in e.final else e.ends_in
        if after != before:
            awaiting = ", awaiting = NULL, awaiting_org_id = NULL" if e.awaiting else ""
            conn.exec_driver_sql(
                f"UPDATE {e.table} SET status = %s, updated_at = now(){awaiting} WHERE {e.key} = %s",
                (after, row[0]),
            )
        released = conn.exec_driver_sql(RELEASE_MEMBERS_SQL, (row[0],)).rowcount if e.entity == "card_batch" else 0
        verb, done = _VERBS[action]
        summary = f"管理员{verb}了流程：{reason}" + (f"（释放{released}名会员）" if released else "")
        conn.exec_driver_sql(
            """INSERT INTO audit_events (at, actor_id, actor_name, org_id, action, entity_type, entity_id,
                                         from_state, to_state, summary)
               VALUES (now(), %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (actor.user_id, actor.name, org_id, f"{e.entity}.{done}", e.entity, key,
             before, after, summary[:500]),
        )  # fmt: skip
        return e.entity
    return None
