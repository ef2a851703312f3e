"""The member registry at the workbench: a union's members (a reviewer's: with the unions below),
searched and filtered, a page at a time, ID numbers and phones masked."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from models.inputs import PAGE_MAX
from models.states import LABELS, CardStatus
from services import members
from web.deps import PREFIX, PageSession
from web.render import page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 50


@router.get("/orgs/{code}/members", response_class=HTMLResponse)
def member_list(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    q: str | None = Query(None, max_length=40),
    card_status: str | None = Query(None, max_length=20),
    subtree: bool = False,
    page_no: int = Query(1, alias="page", ge=1, le=PAGE_MAX),
) -> HTMLResponse:
    status = CardStatus(card_status) if card_status in {s.value for s in CardStatus} else None
    found = members.list_members(
        session=session,
        actor=current.actor,
        code=code,
        card_status=status,
        employment_status=None,
        q=q or None,
        subtree=subtree,
        page=page_no,
        size=PAGE_SIZE,
    )

    def link(n: int) -> str:
        query = {"q": q or "", "card_status": card_status or "", "page": n, **({"subtree": 1} if subtree else {})}
        return f"{PREFIX}/orgs/{code}/members?{urlencode(query)}"

    return page(
        request,
        "members.html",
        current,
        members=found,
        code=code,
        q=q,
        card_status=card_status,
        subtree=subtree,
        link=link,
        card_statuses=list(LABELS[CardStatus].items()),
    )
