"""The round at a glance for a district or the center: a chart of where its unions stand, the
unions behind each bar, the days left to each deadline."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from api.deps import SessionDep, SettingsDep, YearPath
from rules.calendar import today
from services import rounds
from web.charts import bar_chart
from web.deps import PREFIX, PageSession
from web.render import page

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/rounds/{code}/{year}", response_class=HTMLResponse)
def round_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    year: YearPath,
    code: str = Path(max_length=32),
) -> HTMLResponse:
    overview = rounds.round_overview(
        session=session, actor=current.actor, code=code, year=year, today=today(settings.timezone)
    )
    bars = [(s.key, s.label, len(s.unions)) for s in overview.stages]
    chart = Markup(bar_chart(bars, f"{overview.year}年度集中参保进度"))  # noqa: S704  (drawn by us, labels escaped)
    return page(request, "round.html", current, r=overview, chart=chart)


@router.get("/rounds/{code}/{year}/registration", response_class=HTMLResponse)
def registration_round_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    year: YearPath,
    code: str = Path(max_length=32),
) -> HTMLResponse:
    """The year's card registration at a glance: unions by how far they have registered their cards."""
    overview = rounds.registration_overview(
        session=session, actor=current.actor, code=code, year=year, today=today(settings.timezone)
    )
    bars = [(s.key, s.label, len(s.unions)) for s in overview.stages]
    chart = Markup(bar_chart(bars, f"{overview.year}年度卡注册进度"))  # noqa: S704  (drawn by us, labels escaped)
    return page(request, "round.html", current, r=overview, chart=chart, what="卡注册")
