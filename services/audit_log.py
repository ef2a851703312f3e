"""The audit log as reviewers and admins read it: their subtree's rows (all for admins), newest first."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.audit import audit_public
from core.auth import Actor, require_role
from models.audit import AuditEvent, AuditPublic
from models.org import Organisation
from models.states import Role


def list_audit(*, session: Session, actor: Actor, entity: str | None, limit: int) -> list[AuditPublic]:
    """``entity``: an entity type, or type:id (member:3100000001)."""
    require_role(actor, Role.REVIEWER, Role.CENTER_REVIEWER)
    query = select(AuditEvent, Organisation).join(
        Organisation, col(Organisation.id) == col(AuditEvent.org_id), isouter=True
    )
    if not actor.is_admin:
        query = query.where(col(Organisation.path).startswith(actor.org_path))
    if entity:
        kind, _, ident = entity.partition(":")
        query = query.where(AuditEvent.entity_type == kind)
        if ident:
            query = query.where(AuditEvent.entity_id == ident)
    rows = session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
    return [audit_public(e, o.code if o else None) for e, o in rows]
