"""Rendering a page: the template with who is signed in, the session's CSRF token and a notice."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from core.errors import AppError
from models.inputs import PAGE_MAX
from services.sessions import CurrentSession
from web.templating import templates


def page(
    request: Request, name: str, current: CurrentSession | None = None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    values = {
        "me": current.actor if current else None,
        "csrf_token": current.csrf_token if current else None,
        "flash": request.query_params.get("done"),
        **context,
    }
    return templates.TemplateResponse(request, name, values, status_code=status_code)


def refusal(error: AppError) -> dict[str, Any]:
    """An error as the templates show it: its code, its Chinese message, its details."""
    return {"code": error.code, "message": error.message, "details": error.details}


def page_number(request: Request) -> int:
    """The ``page`` of a list's address (1 when missing or not a page number)."""
    given = request.query_params.get("page", "1")
    return min(max(int(given), 1), PAGE_MAX) if given.isdigit() and len(given) < 7 else 1


Again = Callable[[int, Mapping[str, object]], Awaitable[Response] | Response]
Answer = Callable[[Any], Awaitable[Response] | Response]


async def answered(
    act: Callable[[], Awaitable[object]], *, again: Again, answer: Answer, invalid: Mapping[str, object]
) -> Response:
    """A form's action as every page runs it: done, ``answer`` makes the response from what ``act``
    returned; refused, the page is shown ``again`` with the refusal (``invalid`` when the form's
    own values do not make a request), its status the refusal's."""
    try:
        result = await act()
    except ValidationError:
        shown = again(422, invalid)
    except AppError as exc:
        shown = again(exc.status_code, refusal(exc))
    else:
        shown = answer(result)
    return await shown if inspect.isawaitable(shown) else shown


async def decided(
    act: Callable[[], Awaitable[object]],
    *,
    again: Again,
    then: str | Callable[[Any], str],
    done: str | Callable[[Any], str],
    invalid: Mapping[str, object],
) -> Response:
    """``answered`` where done means going to a page: the browser goes to ``then`` (or ``then`` of
    the result: the batch just opened) with ``done`` (or ``done`` of the result) as its notice."""

    def go(result: Any) -> Response:
        where = then(result) if callable(then) else then
        notice = done(result) if callable(done) else done
        return RedirectResponse(f"{where}?done={quote(notice)}", status_code=303)

    return await answered(act, again=again, answer=go, invalid=invalid)
