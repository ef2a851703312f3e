"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import get_temporal

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """The database and Temporal are reachable."""
    checks: dict[str, str] = {}
    try:

        def ping() -> None:
            with request.app.state.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        await asyncio.to_thread(ping)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        client = await get_temporal(request)
        await asyncio.wait_for(client.service_client.check_health(), 3)
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"unreachable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    if ok:
        return JSONResponse({"status": "ready", "checks": checks})
    body = {"error": {"code": "not_ready", "message": "依赖服务不可用", "details": checks}}
    return JSONResponse(body, status_code=503)
