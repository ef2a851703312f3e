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


async def decided(
    act: Callable[[], Awaitable[object]], *, again: Again, then: str, done: str, invalid: Mapping[str, object]
) -> Response:
    """A form's action as every page runs it: done, the browser goes to ``then`` with ``done`` as
    its notice; refused, the page is shown ``again`` with the refusal (``invalid`` when the form's
    own values do not make a request), its status the refusal's."""
    try:
        await act()
    except ValidationError:
        shown = again(422, invalid)
    except AppError as exc:
        shown = again(exc.status_code, refusal(exc))
    else:
        return RedirectResponse(f"{then}?done={quote(done)}", status_code=303)
    return await shown if inspect.isawaitable(shown) else shown
