"""The Temporal client every process builds the same way."""

from __future__ import annotations

from temporalio.client import Client

from core.settings import Settings


async def connect(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
