"""Readiness: are the database and Temporal reachable (each named with what failed)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from core.db import Database
from services.waiting import TemporalSource


async def readiness(*, db: Database, temporal: TemporalSource) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:

        def ping() -> None:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await asyncio.to_thread(ping)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        client = await temporal()
        await asyncio.wait_for(client.service_client.check_health(), 3)
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"unreachable: {type(exc).__name__}"
    return checks
