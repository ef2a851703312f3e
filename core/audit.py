"""Appending audit rows. Summaries name fields and counts, never ID numbers or phones."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from core.auth import Actor
from models.audit import AuditEvent, AuditPublic
from models.states import EVENT_LABELS, STATUSES, label_of


def append_audit(
    session: Session,
    *,
    actor_id: int | None,
    actor_name: str,
    org_id: int | None,
    action: str,
    entity_type: str,
    entity_id: str | int,
    summary: str,
    from_state: str | None = None,
    to_state: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        actor_name=actor_name,
        org_id=org_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        summary=summary[:500],
        from_state=from_state,
        to_state=to_state,
    )
    session.add(event)
    return event


def audit_action(
    session: Session,
    actor: Actor,
    action: str,
    entity: tuple[str, str | int],
    summary: str,
    *,
    org_id: int | None,
    states: tuple[str | None, str | None] = (None, None),
) -> AuditEvent:
    """An audit row for something a signed-in user did."""
    return append_audit(
        session,
        actor_id=actor.user_id,
        actor_name=actor.name,
        org_id=org_id,
        action=action,
        entity_type=entity[0],
        entity_id=entity[1],
        summary=summary,
        from_state=states[0],
        to_state=states[1],
    )


def audit_public(event: AuditEvent, org_code: str | None) -> AuditPublic:
    return AuditPublic(
        at=event.at,
        actor=event.actor_name,
        org_code=org_code,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        from_state=event.from_state,
        to_state=event.to_state,
        summary=event.summary,
        label=step_label(event),
    )


def step_label(event: AuditEvent) -> str:
    """A workflow step by its Chinese labels: ``提交（草稿 → 已提交）``; other rows: their summary."""
    statuses = STATUSES.get(event.entity_type)
    if statuses is None or not event.from_state or not event.to_state:
        return event.summary
    verb = EVENT_LABELS.get(event.action.split(".", 1)[-1]) or EVENT_LABELS.get(event.action.split(".", 1)[-1] + "_")
    moved = f"{label_of(statuses, event.from_state)} → {label_of(statuses, event.to_state)}"
    return f"{verb or event.action}（{moved}）"


def audit_histories(session: Session, entity_type: str, entity_ids: Iterable[str | int]) -> list[AuditEvent]:
    """The audit rows of several entities of a type, each entity's oldest first."""
    keys = [str(i) for i in entity_ids]
    query = (
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, col(AuditEvent.entity_id).in_(keys))
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    )
    return list(session.exec(query).all())


def audit_history(session: Session, entity_type: str, entity_id: str | int) -> list[AuditEvent]:
    """An entity's audit rows, oldest first (a workflow's steps by when the workflow made them: a
    step may be written after a later one, see ``activities.projection``)."""
    return audit_histories(session, entity_type, [entity_id])
