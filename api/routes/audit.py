"""The audit log, for reviewers and admins."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import CurrentActor, SessionDep
from core.audit import audit_public
from core.auth import require_role
from models.audit import AuditEvent, AuditPublic
from models.org import Organisation
from models.states import Role

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit(
    session: SessionDep,
    actor: CurrentActor,
    entity: str | None = Query(None, description="entity type, or type:id (member:3100000001)"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[AuditPublic]:
    """Audit rows of the caller's subtree (all for admins), newest first."""
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
