"""The FastAPI application: routers, one error shape, request context for logs."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api.deps import TokenCache
from api.routes import (
    admin,
    audit,
    bank,
    card_batches,
    cards,
    claims,
    codec,
    districts,
    enrollments,
    health,
    imports,
    members,
    orgs,
    programme,
    registrations,
    tasks,
    users,
)
from core.db import Database
from core.errors import AppError
from core.logging import get_logger
from core.metrics import HttpMetrics, route_template
from core.settings import Settings, get_settings

log = get_logger("api")
_HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict"}


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, temporal: Client | None = None
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.db is None:
            if not settings.database_url:
                raise RuntimeError("UNIONCARD_DATABASE_URL is not set (run `unioncard dev` for a local setup)")
            app.state.db = Database(settings.database_url)
        yield
        app.state.db.dispose()

    app = FastAPI(
        title="unioncard",
        description="Trade-union member service card programme: members, card batches, enrollments, claims.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.temporal = temporal
    app.state.tokens = TokenCache(settings.token_cache_seconds)
    app.state.metrics = HttpMetrics() if settings.api_metrics else None
    if settings.api_metrics:
        app.add_api_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
    for module in (
        health, orgs, users, members, imports, card_batches, bank, audit, programme, enrollments, districts, tasks,
        claims,
        cards, registrations, admin,
        codec,
    ):  # fmt: skip
        app.include_router(module.router)
    _install_error_handlers(app)
    app.add_middleware(RequestContext)
    return app


class RequestContext:
    """Each request's id (``X-Request-ID``, taken from the caller or made), its log line with route,
    status, time and actor, and its metrics. A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware``
    costs every request an extra task and a streamed copy of its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        request_id = Headers(scope=scope).get("x-request-id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 500  # when the handler raises

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = route_template(scope)
            metrics: HttpMetrics | None = scope["app"].state.metrics
            if metrics is not None:
                metrics.observe(route, scope["method"], status, seconds)
            # The handler ran in a context of its own: the actor it found comes back through the state.
            structlog.contextvars.bind_contextvars(**scope.get("state", {}).get("log_actor", {}))
            log.info(
                "request", method=scope["method"], route=route, path=scope["path"], status=status,
                ms=round(seconds * 1000, 1),
            )  # fmt: skip


async def _metrics(request: Request) -> Response:
    """Prometheus metrics of this API process: requests by route template, method and status, and
    their latency. No token, as Prometheus scrapes it: it holds route templates and counts, never a
    member or a path's values. Where the API faces the internet, block ``/metrics`` at the proxy or
    set ``UNIONCARD_API_METRICS=false``."""
    metrics: HttpMetrics = request.app.state.metrics
    return Response(metrics.render(), media_type=metrics.content_type)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        body = AppError(
            "invalid_request",
            "请求内容不正确：" + "；".join(f"{d['field']} {d['message']}" for d in details),
            details=details,
        ).body()
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(AppError(code, str(exc.detail)).body(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", error_type=type(exc).__name__)
        return JSONResponse(AppError("internal_error", "服务器内部错误，请稍后再试").body(), status_code=500)
