"""Admin: find stuck workflows and repair them (every repair audited with the admin and a reason)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import AdminActor, SessionDep, SettingsDep, TemporalDep
from services import admin_repairs
from services.admin_repairs import RepairBody, WorkflowPage

router = APIRouter(prefix="/admin/workflows", tags=["admin"])


@router.get("")
async def stuck_workflows(
    actor: AdminActor,
    session: SessionDep,
    temporal: TemporalDep,
    type: str | None = Query(None, description="claim, enrollment, district_filing, card_batch, ..."),
    status: str | None = None,
    org: str | None = Query(None, description="An organisation code: it and everything below it"),
    stale_for: str | None = Query(None, description="No transition for longer than this: 30m, 24h, 7d"),
    failing: bool = Query(False, description="Only workflows with a failing activity or workflow task"),
    overdue: bool = False,
    include_closed: bool = False,
    size: int = Query(50, ge=1, le=200),
    page_token: str | None = None,
) -> WorkflowPage:
    """Workflows by type, status, organisation subtree, age in state, failing, overdue; each row
    with who it awaits and its pending activities (attempt, last failure, next retry)."""
    return await admin_repairs.stuck_workflows(
        session=session,
        actor=actor,
        temporal=temporal,
        type=type,
        status=status,
        org=org,
        stale_for=stale_for,
        failing=failing,
        overdue=overdue,
        include_closed=include_closed,
        size=size,
        page_token=page_token,
    )


@router.get("/{workflow_id}")
async def workflow_detail(
    workflow_id: str, actor: AdminActor, session: SessionDep, temporal: TemporalDep
) -> dict[str, Any]:
    """Everything of the list row plus history length and size, pending timers and deadlines,
    the last workflow task failure, and the audit history of the entity the workflow drives."""
    return await admin_repairs.workflow_detail(session=session, actor=actor, temporal=temporal, workflow_id=workflow_id)


@router.post("/{workflow_id}/repairs")
async def repair_workflow(
    workflow_id: str,
    data: RepairBody,
    actor: AdminActor,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> dict[str, Any]:
    """Retry a failing activity now, pause or unpause it, cancel, terminate, reset the workflow
    to its last good workflow task, or resend a card batch to the bank."""
    return await admin_repairs.repair_workflow(
        session=session, actor=actor, temporal=temporal, settings=settings, workflow_id=workflow_id, data=data
    )
