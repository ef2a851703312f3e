"""A union's cards at the workbench (卡片信息管理): loss and replacement (reported with a
replacement at once, or a replacement asked for a lost card); and the year's card registration
(年度注册) of every card."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep, YearPath
from services import cards, registrations
from services.cards import LossReport, ReplacementRequest
from services.registrations import RegisterRequest
from web.deps import PREFIX, PageSession
from web.render import decided, page, page_number

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_SIZE = 100  # rows of a list page


async def _registration_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    year: int,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    view = registrations.read_registration(session=session, actor=current.actor, org_code=code, year=year)
    return page(request, "registration.html", current, status_code=status_code, r=view, error=error)


@router.get("/orgs/{code}/registrations/{year}", response_class=HTMLResponse)
async def registration_page(
    request: Request, session: SessionDep, current: PageSession, code: str, year: YearPath
) -> HTMLResponse:
    """A union's card registration for a year: its window, counts, the clerk's registration of every card."""
    return await _registration_page(request, session, current, code, year)


@router.post("/orgs/{code}/registrations/{year}")
async def register_all(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    code: str,
    year: YearPath,
) -> Response:
    """Register every card of the union held for the year (in the window)."""

    async def act() -> Any:
        return await registrations.register_cards(
            session=session, actor=current.actor, temporal=temporal, settings=settings, org_code=code, year=year,
            data=RegisterRequest(all_cards=True),
        )  # fmt: skip

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _registration_page(request, session, current, code, year, status, error)

    return await decided(
        act,
        again=again,
        then=f"{PREFIX}/orgs/{code}/registrations/{year}",
        done=lambda made: f"本次注册 {made.registered_now} 张卡",
        invalid={"code": "invalid_request", "message": "注册请求无法执行，请刷新页面后重试"},
    )


async def _cards_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    found = cards.list_cards(
        session=session, actor=current.actor, org_code=code, status=None, page=page_number(request), size=LIST_SIZE
    )
    return page(
        request,
        "cards.html",
        current,
        status_code=status_code,
        cards=found,
        code=code,
        error=error,
        page_no=page_number(request),
        more=len(found) == LIST_SIZE,
    )


@router.get("/orgs/{code}/cards", response_class=HTMLResponse)
async def cards_page(request: Request, session: SessionDep, current: PageSession, code: str) -> HTMLResponse:
    """A union's cards with their loss and replacement."""
    return await _cards_page(request, session, current, code)


@router.post("/cards/{card_no}/{action}")
async def card_action(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    card_no: Annotated[str, Path(pattern=r"^\d{16,19}$")],
    action: str,
) -> Response:
    """Report a card lost (and ask for a new one at once), or ask for the new card of a lost one."""
    code = current.actor.org_code
    kw: dict[str, Any] = {"session": session, "actor": current.actor, "temporal": temporal, "settings": settings}
    acts: dict[str, tuple[Callable[[], Awaitable[Any]], str]] = {
        "loss": (lambda: cards.report_loss(**kw, card_no=card_no, data=LossReport(replace=True)), "已挂失，已申请补卡"),
        "replacement": (
            lambda: cards.request_replacement(**kw, card_no=card_no, data=ReplacementRequest()),
            "已申请补卡",
        ),
    }
    if action not in acts:
        return await _cards_page(
            request, session, current, code, 404, {"code": "unknown_action", "message": "没有这个操作"}
        )
    act, done = acts[action]

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _cards_page(request, session, current, code, status, error)

    return await decided(
        act,
        again=again,
        then=f"{PREFIX}/orgs/{code}/cards",
        done=done,
        invalid={"code": "invalid_request", "message": "操作无法执行，请刷新页面后重试"},
    )
