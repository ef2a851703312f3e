"""The FastAPI application: routers, one error shape, request context for logs."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pydantic
import sqlalchemy.exc
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.attempts import TrustedProxies
from api.auth_listener import AuthListener
from api.deps import TokenCache
from api.docs import install_docs
from api.door import check_door, refusal
from api.routes import (
    admin,
    audit,
    bank,
    card_batches,
    cards,
    claims,
    codec,
    district_notices,
    districts,
    enrollments,
    health,
    imports,
    members,
    orgs,
    programme,
    registrations,
    session,
    tasks,
    users,
)
from core.db import Database
from core.errors import ERROR_RESPONSES, AppError, Conflict, Invalid, NotFound, Unavailable
from core.logging import get_logger
from core.metrics import HttpMetrics, route_template
from core.settings import Settings, get_settings
from documents.notices import unprintable
from services.workflow_calls import accepted_update
from web.app import install_workbench

log = get_logger("api")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# What an admin reads for stored data that no longer meets today's rules.
_STORED_TITLES = {"ProgrammeYearConfig": "已保存的年度保障计划配置", "DistrictFeeSplit": "已保存的区局分担比例"}


def check_printable_settings(settings: Settings) -> None:
    """The center's name and account are printed on every district's notice: a character the
    documents' font cannot draw would print blank, so the API does not start with one."""
    for name in ("center_name", "center_account_name", "center_bank"):
        missing = unprintable(getattr(settings, name))
        if missing:
            raise ValueError(
                f"UNIONCARD_{name.upper()} holds characters the documents' font cannot draw ({missing}):"
                " the district notices would print them blank"
            )


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, temporal: Client | None = None
) -> FastAPI:
    settings = settings or get_settings()
    check_printable_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.db is None:
            if not settings.database_url:
                raise RuntimeError("UNIONCARD_DATABASE_URL is not set (run `unioncard dev` for a local setup)")
            app.state.db = Database(settings.database_url)
        listener = AuthListener(app.state.db.url, app.state.tokens)
        listener.start()
        yield
        listener.stop()
        app.state.db.dispose()

    app = FastAPI(
        title="unioncard",
        description="Trade-union member service card programme: members, card batches, enrollments, claims.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(check_door)],
        docs_url=None,  # served by install_docs, with their assets from this package
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.temporal = temporal
    app.state.tokens = TokenCache(settings.token_cache_seconds)
    app.state.trusted_proxies = TrustedProxies(settings.trusted_proxies)
    app.state.metrics = HttpMetrics() if settings.api_metrics else None
    if settings.api_metrics:
        app.add_api_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
    for module in (
        health, session, orgs, users, members, imports, card_batches, bank, audit, programme, enrollments, districts,
        district_notices, tasks,
        claims,
        cards, registrations, admin,
        codec,
    ):  # fmt: skip
        app.include_router(module.router, responses=ERROR_RESPONSES)
    install_docs(app)
    _install_error_handlers(app)
    install_workbench(app)
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
        accepted_update.set(None)
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex  # the caller's, when it is an id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status, started = 500, False  # 500 when the handler raises

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = MutableHeaders(scope=message)
                headers.append("X-Request-ID", request_id)
                # No answer is ever read as another type than it declares (an uploaded file least of all).
                if "x-content-type-options" not in headers:
                    headers.append("X-Content-Type-Options", "nosniff")
            await send(message)

        try:
            if _json_body_too_large(scope):
                await _too_large()(scope, receive, send_with_id)
                return
            await self.app(scope, _limited(scope, receive), send_with_id)
        except Exception as exc:
            # Answered here rather than by Starlette's last-resort handler, which raises again and
            # makes the server close the connection (the client's next request on it fails).
            log.exception("unhandled error", error_type=type(exc).__name__)
            if started:
                raise  # the answer had begun: nothing better can be sent
            body = AppError("internal_error", "服务器内部错误，请稍后再试").body()
            await JSONResponse(body, status_code=500)(scope, receive, send_with_id)
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


JSON_BODY_MAX = 2 * 1024 * 1024  # a JSON request body (uploads are files, with limits of their own)


def _is_json(scope: Scope) -> bool:
    return "json" in Headers(scope=scope).get("content-type", "")


def _json_body_too_large(scope: Scope) -> bool:
    length = Headers(scope=scope).get("content-length", "")
    return _is_json(scope) and length.isdigit() and int(length) > JSON_BODY_MAX


def _too_large() -> JSONResponse:
    text = f"请求内容过大（最多 {JSON_BODY_MAX // 1024 // 1024} MB）"
    return JSONResponse(AppError("request_too_large", text).body(), status_code=413)


def _limited(scope: Scope, receive: Receive) -> Receive:
    """A JSON body sent without its length is counted as it arrives."""
    if not _is_json(scope):
        return receive
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > JSON_BODY_MAX:  # FastAPI answers its own HTTPException as it is
            raise HTTPException(413, f"请求内容过大（最多 {JSON_BODY_MAX // 1024 // 1024} MB）")
        return message

    return counted


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
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(refusal(exc.errors()).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, text = _HTTP_CODES.get(exc.status_code, ("http_error", "请求无法处理"))
        return JSONResponse(AppError(code, text).body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    @app.exception_handler(sqlalchemy.exc.InterfaceError)
    @app.exception_handler(sqlalchemy.exc.TimeoutError)  # no pooled connection came free in time
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(psycopg.InterfaceError)
    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", error_type=type(exc).__name__)
        workflow_id = accepted_update.get()
        if workflow_id is not None:  # the decision was taken: only its answer could not be read
            return JSONResponse(accepted_body(workflow_id), status_code=202)
        return JSONResponse(DATABASE_UNAVAILABLE.body(), status_code=503, headers={"Retry-After": "5"})

    # Safety nets: a value the door let through that the database cannot store, or two requests that
    # raced for the same row. A refusal, never a 500 (and logged: the door should have caught it).
    @app.exception_handler(sqlalchemy.exc.DataError)
    @app.exception_handler(psycopg.DataError)
    async def unstorable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("value the database refused", error_type=type(exc).__name__)
        error = Invalid("invalid_request", "请求内容不正确：有数值或文字无法保存（超出范围或含无效字符）")
        return JSONResponse(error.body(), status_code=422)

    @app.exception_handler(sqlalchemy.exc.IntegrityError)
    @app.exception_handler(psycopg.IntegrityError)
    async def raced(_: Request, exc: Exception) -> JSONResponse:
        log.warning("constraint refused a write", error_type=type(exc).__name__)
        error = Conflict("conflict", "与已有数据冲突（可能是重复提交），请刷新后查看")
        return JSONResponse(error.body(), status_code=409)

    @app.exception_handler(pydantic.ValidationError)
    async def stored_data_invalid(_: Request, exc: pydantic.ValidationError) -> JSONResponse:
        log.warning("stored data invalid", model=exc.title, errors=exc.error_count())
        what = _STORED_TITLES.get(exc.title, "已保存的数据")
        text = f"{what}不符合当前规则，请管理员检查并重新保存"
        return JSONResponse(Conflict("stored_data_invalid", text, details={"model": exc.title}).body(), status_code=409)

    @app.exception_handler(RPCError)
    async def temporal_refused(_: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal call failed", status=exc.status.name if exc.status else None)
        error = temporal_error(exc)
        return JSONResponse(error.body(), status_code=error.status_code)


def accepted_body(workflow_id: str) -> dict[str, Any]:
    return {
        "accepted": True,
        "workflow_id": workflow_id,
        "message": "操作已被流程受理，但数据库暂时不可用，结果稍后可见：请勿重复提交，稍后刷新查看",
    }


DATABASE_UNAVAILABLE = Unavailable("database_unavailable", "数据库暂时不可用，请稍后再试")
_HTTP_CODES = {
    400: ("bad_request", "请求内容无法解析"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "没有这个地址"),
    405: ("method_not_allowed", "此地址不支持这种请求方法"),
    409: ("conflict", "与当前状态冲突"),
    413: ("request_too_large", "请求内容过大"),
}


def temporal_error(exc: RPCError) -> AppError:
    """Temporal's refusal of a call no route expected to fail."""
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        return Invalid("invalid_request", "请求内容不正确（工作流服务拒绝了参数）")
    if exc.status == RPCStatusCode.NOT_FOUND:
        return NotFound("workflow_not_found", "流程不存在")
    if exc.status == RPCStatusCode.ALREADY_EXISTS:
        return Conflict("workflow_exists", "流程已存在")
    return Unavailable("temporal_unavailable", "工作流服务暂时不可用，请稍后再试")
