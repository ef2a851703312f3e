"""The workbench (业务工作台) served by the API process: its pages under ``/ui`` (and the home page
at ``/``), its static files, and errors answered as pages (a visitor is sent to sign in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.deps import SESSION_COOKIE, look_up_session, temporal_source
from core.errors import AppError, Unauthorized
from services.sessions import CurrentSession
from web.deps import PREFIX, SignInRequired, sign_in_url
from web.pages import accounts as account_pages
from web.pages import admin as admin_pages
from web.pages import batches as batch_pages
from web.pages import cards as card_pages
from web.pages import enrollments as enrollment_pages
from web.pages import filings as filing_pages
from web.pages import member_imports as import_pages
from web.pages import members as member_pages
from web.pages import programme_years as year_pages
from web.pages import rounds as round_pages
from web.pages import session as session_pages
from web.pages import work
from web.render import page, refusal
from web.templating import use_time_zone

STATIC = Path(__file__).resolve().parent / "static"


def _is_page(request: Request) -> bool:
    return request.url.path == "/" or request.url.path.startswith(PREFIX + "/")


def install_workbench(app: FastAPI) -> None:
    use_time_zone(app.state.settings.timezone)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="workbench-static")
    app.include_router(session_pages.router)
    app.include_router(work.router)
    app.include_router(member_pages.router)
    app.include_router(enrollment_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(batch_pages.router)
    app.include_router(import_pages.router)
    app.include_router(card_pages.router)
    app.include_router(filing_pages.router)
    app.include_router(filing_pages.split_router)
    app.include_router(round_pages.router)
    app.include_router(account_pages.router)
    app.include_router(year_pages.router)
    app.add_api_route("/", _root, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)
    api_error = app.exception_handlers[AppError]
    invalid = app.exception_handlers[RequestValidationError]

    async def signed_out(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        if request.headers.get("hx-request"):  # an htmx part of a page whose session ended
            return Response(status_code=204, headers={"HX-Redirect": sign_in_url(exc.next_url)})
        return RedirectResponse(sign_in_url(exc.next_url), status_code=303)

    async def app_error(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await _call(api_error, request, exc)
        assert isinstance(exc, AppError)
        return page(
            request,
            "error.html",
            getattr(request.state, "web_session", None),
            status_code=exc.status_code,
            error=refusal(exc),
            back=request.headers.get("referer"),
        )

    async def bad_input(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await _call(invalid, request, exc)
        error = {"code": "invalid_request", "message": "填写的内容不正确，请检查后重新提交"}
        return page(
            request,
            "error.html",
            getattr(request.state, "web_session", None),
            status_code=422,
            error=error,
            back=request.headers.get("referer"),
        )

    app.add_exception_handler(SignInRequired, signed_out)
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, bad_input)


async def _call(handler: Any, request: Request, exc: Exception) -> Response:
    """The API's own handler of an error (its JSON answer)."""
    answer: Response = await handler(request, exc)
    return answer


async def _root(request: Request) -> Response:
    """The sign-in form for a visitor, the home page for a signed-in user."""
    cookie = request.cookies.get(SESSION_COOKIE)
    current: CurrentSession | None = None
    if cookie:
        try:
            current = await run_in_threadpool(look_up_session, request.app.state.db, cookie)
        except Unauthorized:
            current = None
    if current is None:
        return page(request, "sign_in.html", next_url="/")
    request.state.web_session = current
    db = request.app.state.db
    with db.session() as session:
        result: Any = await work.home(request, session, current, temporal_source(request), request.app.state.settings)
    return result  # type: ignore[no-any-return]
