"""Accounts at the workbench (seed 002: the superior union recovers or resets a union's account):
the accounts one may manage, opening one, resets and deactivations, each setup code shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from models.user import SetupCodeIssued, UserCreate
from services import accounts
from web.deps import PREFIX, PageSession
from web.render import Again, answered, page, page_number

LIST_SIZE = 100

router = APIRouter(prefix=f"{PREFIX}/accounts", include_in_schema=False)


def _page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    org: str | None = None,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
    issued: SetupCodeIssued | None = None,
) -> HTMLResponse:
    page_no = page_number(request)
    found = accounts.list_accounts(session=session, actor=current.actor, org_code=org, page=page_no, size=LIST_SIZE)
    return page(
        request,
        "accounts.html",
        current,
        page_no=page_no,
        more=len(found) == LIST_SIZE,
        status_code=status_code,
        accounts=found,
        org=org,
        error=error,
        issued=issued,
    )


@router.get("", response_class=HTMLResponse)
def accounts_page(
    request: Request, session: SessionDep, current: PageSession, org: str | None = Query(None, max_length=32)
) -> HTMLResponse:
    return _page(request, session, current, org or None)


@router.post("")
async def open_account(
    request: Request,
    session: SessionDep,
    current: PageSession,
    org_code: Annotated[str, Form(max_length=32)],
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=20)],
    login: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """A new account: the page shows its setup code once (never in an address)."""
    given = {"org_code": org_code.strip(), "name": name.strip(), "role": role, "login": login.strip() or None}

    async def act() -> Any:
        data = UserCreate.model_validate(given)
        return await run_in_threadpool(accounts.create_account, session=session, actor=current.actor, data=data)

    def shown(made: Any) -> Awaitable[HTMLResponse]:
        issued = SetupCodeIssued(login=made.login, setup_code=made.setup_code, setup_expires_at=made.setup_expires_at)
        return run_in_threadpool(_page, request, session, current, status_code=201, issued=issued)

    invalid = {
        "code": "invalid_request",
        "message": "请填写单位代码和姓名；登录名只能含小写字母、数字和 . _ -（3 到 40 个字符）",
    }
    return await answered(act, again=_again(request, session, current), answer=shown, invalid=invalid)


def _again(request: Request, session: SessionDep, current: PageSession) -> Again:
    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return run_in_threadpool(_page, request, session, current, status_code=status, error=error)

    return again


async def _act(request: Request, session: SessionDep, current: PageSession, call: Any, login: str) -> Response:
    """A reset (its new setup code shown once), a deactivation or a reactivation of ``login``."""

    async def act() -> Any:
        return await run_in_threadpool(call, session=session, actor=current.actor, login=login)

    def shown(result: Any) -> Awaitable[HTMLResponse]:
        if isinstance(result, SetupCodeIssued):
            return run_in_threadpool(_page, request, session, current, issued=result)
        request.app.state.tokens.forget_user(result.id)  # a deactivation reaches this process at once
        return run_in_threadpool(_page, request, session, current)

    invalid = {"code": "invalid_request", "message": "操作无法执行，请刷新页面后重试"}
    return await answered(act, again=_again(request, session, current), answer=shown, invalid=invalid)


@router.post("/{login}/reset")
async def reset(request: Request, session: SessionDep, current: PageSession, login: str) -> Response:
    return await _act(request, session, current, accounts.reset, login)


@router.post("/{login}/deactivate")
async def deactivate(request: Request, session: SessionDep, current: PageSession, login: str) -> Response:
    return await _act(request, session, current, accounts.deactivate, login)


@router.post("/{login}/reactivate")
async def reactivate(request: Request, session: SessionDep, current: PageSession, login: str) -> Response:
    return await _act(request, session, current, accounts.reactivate, login)
