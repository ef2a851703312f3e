"""Signed callbacks from the bank: verified, stored once, then signalled to the batch's workflow."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import DatabaseDep, SettingsDep, TemporalDep
from core.bank_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from services.bank_callbacks import receive_callback

router = APIRouter(prefix="/bank", tags=["bank"])


@router.post("/callbacks")
async def bank_callback(
    request: Request, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep
) -> dict[str, str]:
    """A bank event (batch.acknowledged, batch.results, card.activated, card.replaced,
    transfer.received), HMAC-signed over
    ``timestamp.body``. Answered 200 only once it is stored and handed on; a repeat is
    acknowledged without acting twice."""
    return await receive_callback(
        db=db, settings=settings, temporal=temporal, body=await request.body(),
        timestamp=request.headers.get(TIMESTAMP_HEADER), signature=request.headers.get(SIGNATURE_HEADER),
    )  # fmt: skip
