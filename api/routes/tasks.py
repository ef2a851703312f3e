"""What waits for the caller: decisions to make, returned work, and what keeps retrying."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalSourceDep
from services import tasks
from services.tasks import Task

router = APIRouter(tags=["tasks"])


@router.get("/tasks")
async def my_tasks(
    session: SessionDep, actor: CurrentActor, settings: SettingsDep, source: TemporalSourceDep
) -> list[Task]:
    """Everything waiting for the caller's decision or action, oldest first within each kind;
    then, for a clerk (their union's) and for admins (every union's), the batches, enrollments
    and claims whose workflow keeps retrying something that failed (kind ``retrying``, with
    ``waiting``: what, the attempt and when the next one is)."""
    return await tasks.my_tasks(session=session, actor=actor, source=source, tz=settings.timezone)
