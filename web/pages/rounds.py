"""The round at a glance for a district or the center: a chart of where its unions stand, the
unions behind each bar, the days left to each deadline; the Mutual Aid Center's city-wide
statistics, district by district, with each district's statistics workbook."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from api.deps import SessionDep, SettingsDep, YearPath
from models.inputs import YEAR_MAX, YEAR_MIN
from rules.calendar import today
from services import programme_years, rounds
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


@router.get("/statistics", response_class=RedirectResponse)
def statistics_now(
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    year: int | None = Query(None, ge=YEAR_MIN, le=YEAR_MAX),
) -> RedirectResponse:
    """The city-wide statistics of the year asked for (the year picker's form), else of the round
    under way (the latest whose split window has opened and whose coverage has not ended)."""
    if year is None:
        day = today(settings.timezone)
        years = programme_years.list_programme_years(session=session, actor=current.actor)
        under_way = [y.year for y in years if y.config.split_window.start <= day <= y.config.coverage.end]
        year = max(under_way, default=day.year)
    return RedirectResponse(f"{PREFIX}/statistics/{year}", status_code=303)


@router.get("/statistics/{year}", response_class=HTMLResponse)
def city_statistics_page(request: Request, session: SessionDep, current: PageSession, year: YearPath) -> HTMLResponse:
    """全市统计 for the Mutual Aid Center: per district and for the city, the unions by stage of the
    round, the members enrolled, the fee due and paid, the district's filing, its workbook."""
    figures = rounds.city_statistics(session=session, actor=current.actor, year=year)
    return page(request, "city_statistics.html", current, s=figures)
