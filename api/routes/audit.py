"""The audit log, for reviewers and admins."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import CurrentActor, SessionDep
from models.audit import AuditPublic
from services import audit_log

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_audit(
    session: SessionDep,
    actor: CurrentActor,
    entity: str | None = Query(None, description="entity type, or type:id (member:3100000001)"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[AuditPublic]:
    """Audit rows of the caller's subtree (all for admins), newest first."""
    return audit_log.list_audit(session=session, actor=actor, entity=entity, limit=limit)
