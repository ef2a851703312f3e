"""Programme years (保障年度) at the workbench: the years a page at a time; one year's rules, its
extensions (延期) and, for admins, the form that changes its dates and fees through the same
service as ``PUT /programme-years/{year}`` (its refusals beside their fields: a date already in
force points at the extension form); an extension made where ``services.extensions`` allows."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import SessionDep, SettingsDep, TemporalDep, YearPath
from api.door import refusal as door_refusal
from core.errors import NotFound
from models.extension import ExtensionCreate
from models.inputs import YEAR_MAX, YEAR_MIN
from models.programme import ProgrammeYearConfig, ProgrammeYearPublic
from models.states import LABELS, ClaimKind, ExtensionKind
from services import programme_years
from web.deps import PREFIX, PageSession
from web.render import decided, page, page_number

router = APIRouter(prefix=f"{PREFIX}/programme-years", include_in_schema=False)
PAGE_SIZE = 20
WINDOWS = ("split_window", "submission_window", "district_window", "coverage", "registration_window")
EXTENSION_FIELDS = ("kind", "new_date", "reason", "district_code")
VALUE_MAX = 200  # a form value longer than any field of the configuration is not one of its values


@router.get("", response_class=HTMLResponse)
def year_list(request: Request, session: SessionDep, current: PageSession) -> HTMLResponse:
    """Every configured year, the latest first, a page at a time."""
    years = programme_years.list_programme_years(session=session, actor=current.actor)
    number = page_number(request)
    shown = years[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    latest = max((y.year for y in years), default=None)
    return page(
        request, "programme_years.html", current, years=shown, total=len(years), page=number, size=PAGE_SIZE,
        latest=latest,
    )  # fmt: skip


@router.get("/new", response_class=RedirectResponse)
def new_year(
    session: SessionDep,
    current: PageSession,
    year: int = Query(ge=YEAR_MIN, le=YEAR_MAX),
    from_year: int = Query(alias="from", ge=YEAR_MIN, le=YEAR_MAX),
) -> RedirectResponse:
    """The new year's form, its dates moved on from the template year (an existing year: its page)."""
    if _configured(session, current, year) is not None:
        return RedirectResponse(f"{PREFIX}/programme-years/{year}?done={quote('该年度已配置，可在此修改')}", 303)
    return RedirectResponse(f"{PREFIX}/programme-years/{year}?from={from_year}", status_code=303)


def _configured(session: SessionDep, current: PageSession, year: int) -> ProgrammeYearPublic | None:
    try:
        return programme_years.read_programme_year(session=session, actor=current.actor, year=year)
    except NotFound:
        return None


def _year_or_new(session: SessionDep, current: PageSession, year: int, from_year: int | None) -> ProgrammeYearPublic:
    """The year as configured; a year not configured yet, with a template year: the template's
    configuration moved on to it (not saved until the admin saves the form)."""
    found = _configured(session, current, year)
    if found is not None or from_year is None:
        return found or programme_years.read_programme_year(session=session, actor=current.actor, year=year)
    template = programme_years.read_programme_year(session=session, actor=current.actor, year=from_year)
    moved = programme_years.moved_config(template.config, old=from_year, new=year)
    return ProgrammeYearPublic(year=year, config=moved, updated_at=template.updated_at)


def flat(config: ProgrammeYearConfig) -> dict[str, str]:
    """The configuration's editable values by their form names (``split_window.end``)."""
    data = config.model_dump(mode="json")
    out = {"plan_name": data["plan_name"], "payment_deadline": data["payment_deadline"]}
    for key in ("claim_time_limit_days", "return_timeout_days"):
        out[key] = str(data[key])
    for window in WINDOWS:
        for end in ("start", "end"):
            out[f"{window}.{end}"] = (data[window] or {}).get(end, "")
    for share in ("city", "district", "grassroots"):
        out[f"default_split.{share}"] = str(data["default_split"][share])
    for i, kind in enumerate(data["protection_types"]):
        out[f"protection_types.{i}.name"] = kind["name"]
        out[f"protection_types.{i}.price"] = kind["price"]
    for kind, value in data["claim_amounts"].items():
        out[f"claim_amounts.{kind}"] = value
    return out


def edited(config: ProgrammeYearConfig, given: Mapping[str, str]) -> dict[str, Any]:
    """The configuration with the form's values put in place (only the names ``flat`` gives); the
    registration window left empty is the year's default."""
    data = config.model_dump(mode="json")
    known = flat(config)
    for key, value in given.items():
        if key not in known:
            continue
        *path, last = key.split(".")
        target: Any = data
        for part in path:
            if isinstance(target, list):
                target = target[int(part)]
            else:
                if target.get(part) is None:  # the registration window the year leaves to its default
                    target[part] = {}
                target = target[part]
        target[int(last) if isinstance(target, list) else last] = value
    window = data.get("registration_window") or {}
    if not (window.get("start") or window.get("end")):
        data["registration_window"] = None
    return data


def field_errors(error: Mapping[str, Any] | None) -> dict[str, str]:
    """A refusal's messages by the form name they belong to (a date in force: by its window)."""
    if not error:
        return {}
    details = error.get("details")
    if error.get("code") == "dates_in_force" and isinstance(details, dict):
        text = "流程已按此日期运行，不能直接修改；请用本页的“办理延期”延长"
        return {f: text for f in details.get("fields", [])}
    if isinstance(details, list):  # the door's refusal: every field with its message ("" the whole form)
        return {str(d.get("field", "")).removeprefix("body").removeprefix("."): d["message"] for d in details}
    if isinstance(details, dict) and isinstance(details.get("field"), str):
        return {details["field"]: str(error.get("message"))}
    return {}


async def _year_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    year: int,
    status_code: int = 200,
    *,
    error: Mapping[str, Any] | None = None,
    given: Mapping[str, str] | None = None,
    extension_error: Mapping[str, Any] | None = None,
    extension_given: Mapping[str, str] | None = None,
    from_year: int | None = None,
) -> HTMLResponse:
    found = _year_or_new(session, current, year, from_year)
    creating = _configured(session, current, year) is None
    extensions = [] if creating else programme_years.list_extensions(session=session, actor=current.actor, year=year)
    values = {**flat(found.config), **(given or {})}
    errors, extension_errors = field_errors(error), field_errors(extension_error)
    placed = {*values, *WINDOWS, "default_split"}  # the names the form shows a message beside
    return page(
        request,
        "programme_year.html",
        current,
        status_code=status_code,
        y=found,
        values=values,
        error=error,
        errors=errors,
        unplaced=[m for f, m in errors.items() if f not in placed],
        extensions=extensions,
        extension_error=extension_error,
        extension_errors=extension_errors,
        extension_unplaced=[m for f, m in extension_errors.items() if f not in EXTENSION_FIELDS],
        extension_given=extension_given or {},
        windows=[(w, LABELS_OF_WINDOWS[w]) for w in WINDOWS],
        claim_kinds=list(LABELS[ClaimKind].items()),
        extension_kinds=list(LABELS[ExtensionKind].items()),
        registration=found.config.registration(year),
        creating=creating,
        from_year=from_year,
    )


LABELS_OF_WINDOWS = {
    "split_window": "区局比例设置窗口",
    "submission_window": "基层提交窗口",
    "district_window": "区局提交职保中心窗口",
    "coverage": "保障期",
    "registration_window": "卡注册窗口",
}


@router.get("/{year}", response_class=HTMLResponse)
async def year_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    year: YearPath,
    from_year: int | None = Query(None, alias="from", ge=YEAR_MIN, le=YEAR_MAX),
) -> HTMLResponse:
    """One year: its rules, its extensions, the admin's form and the extension form; a year not
    configured yet with ``from``: the form of the new year, the template's dates moved on."""
    return await _year_page(request, session, current, year, from_year=from_year)


@router.post("/{year}")
async def edit_year(request: Request, session: SessionDep, current: PageSession, year: YearPath) -> Response:
    """The admin's change of the year's dates and fees, checked as ``PUT /programme-years/{year}``
    checks it (the whole configuration; dates in force refused)."""
    form = await request.form()
    given = {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf_token" and len(v) <= VALUE_MAX}

    from_year = int(given["from_year"]) if given.get("from_year", "").isdigit() else None
    from_year = from_year if from_year is not None and YEAR_MIN <= from_year <= YEAR_MAX else None

    def put() -> object:  # in a worker thread: the event loop never waits for the database
        existing = _year_or_new(session, current, year, from_year)
        try:
            config = ProgrammeYearConfig.model_validate(edited(existing.config, given))
        except ValidationError as exc:
            raise door_refusal(exc.errors()) from None
        return programme_years.put_programme_year(session=session, actor=current.actor, year=year, data=config)

    async def act() -> object:
        return await run_in_threadpool(put)

    def again(status: int, refused: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _year_page(request, session, current, year, status, error=refused, given=given, from_year=from_year)

    invalid = {"code": "invalid_request", "message": "填写的内容不正确，请检查后重新提交"}
    then = f"{PREFIX}/programme-years/{year}"
    return await decided(act, again=again, then=then, done=f"{year}年度配置已保存", invalid=invalid)


@router.post("/{year}/extensions")
async def extend(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    year: YearPath,
    kind: Annotated[str, Form(max_length=30)],
    new_date: Annotated[str, Form(max_length=10)],
    reason: Annotated[str, Form(max_length=300)] = "",
    district_code: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """An extension of one of the year's dates (延期), for every union or one district's."""
    given = {"kind": kind, "new_date": new_date, "reason": reason.strip(), "district_code": district_code.strip()}

    async def act() -> object:
        try:
            data = ExtensionCreate.model_validate({**given, "district_code": given["district_code"] or None})
        except ValidationError as exc:
            raise door_refusal(exc.errors()) from None
        return await programme_years.create_extension(
            session=session, actor=current.actor, temporal=temporal, settings=settings, year=year, data=data
        )

    def again(status: int, refused: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _year_page(request, session, current, year, status, extension_error=refused, extension_given=given)

    invalid = {
        "code": "invalid_request",
        "message": "请选择延期事项，填写有效的新日期和原因（至少 2 个字）；区局代码为 3 位数字",
    }
    then = f"{PREFIX}/programme-years/{year}"
    return await decided(act, again=again, then=then, done="已办理延期", invalid=invalid)
