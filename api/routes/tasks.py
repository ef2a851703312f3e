"""What waits for the caller: decisions to make, returned work, and what keeps retrying."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalSourceDep
from models.inputs import PAGE_MAX
from services import tasks
from services.tasks import Task

router = APIRouter(tags=["tasks"])


@router.get("/tasks")
async def my_tasks(
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    source: TemporalSourceDep,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(1000, ge=1, le=1000),
) -> list[Task]:
    """Everything waiting for the caller's decision or action, oldest first within each kind;
    then, for a clerk (their union's) and for admins (every union's), the batches, enrollments
    and claims whose workflow keeps retrying something that failed (kind ``retrying``, with
    ``waiting``: what, the attempt and when the next one is). The nearest deadline first, then the
    longest waiting; each with its deadline, days left, age and step; a page of ``size``."""
    return await tasks.my_tasks(session=session, actor=actor, source=source, tz=settings.timezone, page=page, size=size)
