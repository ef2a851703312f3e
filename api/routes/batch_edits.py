"""Member edits of a card batch, as the members routes call them: the work is the service's
(``services.card_batches``)."""

from __future__ import annotations

from sqlmodel import Session
from temporalio.client import Client

from core.auth import Actor
from core.settings import Settings
from services import card_batches


async def recheck_open_batch(
    session: Session, temporal: Client, settings: Settings, actor: Actor, member_no: str
) -> None:
    """A corrected member sends their validated, not yet submitted batch back to pending."""
    await card_batches.recheck_open_batch(
        session=session, temporal=temporal, settings=settings, actor=actor, member_no=member_no
    )
