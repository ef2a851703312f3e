"""A district's filing with the Mutual Aid Center at the workbench: its unions, submitting it in
the window, the district's notice, the payment voucher, the center's decision, the statistics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep, YearPath
from core.programme import get_config
from models.inputs import INT4_MAX
from models.programme import FeeSplit
from services import filings, programme_years
from services.filings import VOUCHER_MAX_BYTES, VoucherDecision
from web.deps import PREFIX, PageSession
from web.render import decided, page

router = APIRouter(prefix=f"{PREFIX}/districts/{{code}}/enrollments/{{year}}", include_in_schema=False)
Code = Annotated[str, Path(max_length=3)]


def _page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    year: int,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    view = filings.read_filing(session=session, actor=current.actor, code=code, year=year)
    return page(request, "filing.html", current, status_code=status_code, f=view, error=error)


@router.get("", response_class=HTMLResponse)
def filing_page(
    request: Request, session: SessionDep, current: PageSession, code: Code, year: YearPath
) -> HTMLResponse:
    return _page(request, session, current, code, year)


async def _act(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    year: int,
    act: Callable[[], Awaitable[Any]],
    done: str,
) -> Response:
    def again(status: int, error: Mapping[str, object]) -> HTMLResponse:
        return _page(request, session, current, code, year, status, error)

    invalid = {"code": "reason_required", "message": "退回须填写原因"}
    return await decided(
        act, again=again, then=f"{PREFIX}/districts/{code}/enrollments/{year}", done=done, invalid=invalid
    )


@router.post("/submit")
async def submit(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    code: Code,
    year: YearPath,
) -> Response:
    async def act() -> Any:
        return await filings.submit_filing(
            session=session, actor=current.actor, temporal=temporal, settings=settings, code=code, year=year
        )

    return await _act(request, session, current, code, year, act, "已提交职保中心")


@router.post("/voucher")
async def voucher(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    code: Code,
    year: YearPath,
    file: UploadFile,
) -> Response:
    body = await file.read(VOUCHER_MAX_BYTES + 1)

    async def act() -> Any:
        return await filings.upload_voucher(
            session=session,
            actor=current.actor,
            temporal=temporal,
            settings=settings,
            code=code,
            year=year,
            body=body,
            filename=file.filename,
            content_type=file.content_type,
        )

    return await _act(request, session, current, code, year, act, "缴费凭证已上传")


@router.post("/voucher/decision")
async def decide(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    code: Code,
    year: YearPath,
    decision: Annotated[str, Form(max_length=7)],
    step: Annotated[int, Form(ge=0, le=INT4_MAX)],
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    async def act() -> Any:
        data = VoucherDecision(approve=decision == "approve", reason=reason.strip() or None, step=step)
        return await filings.decide_voucher(
            session=session, actor=current.actor, temporal=temporal, settings=settings, code=code, year=year, data=data
        )

    return await _act(
        request, session, current, code, year, act, "凭证审核通过，参保完成" if decision == "approve" else "凭证已退回"
    )


split_router = APIRouter(prefix=f"{PREFIX}/districts/{{code}}/fee-split/{{year}}", include_in_schema=False)


def _split_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    code: str,
    year: int,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
    entered: Mapping[str, str] | None = None,
) -> HTMLResponse:
    split: Any = entered or programme_years.read_fee_split(session=session, actor=current.actor, code=code, year=year)
    window = get_config(session, year).split_window.label()
    return page(
        request,
        "fee_split.html",
        current,
        status_code=status_code,
        split=split,
        window=window,
        code=code,
        year=year,
        error=error,
    )


@split_router.get("", response_class=HTMLResponse)
def fee_split_page(
    request: Request, session: SessionDep, current: PageSession, code: Code, year: YearPath
) -> HTMLResponse:
    """The district's split of the fee for the year, and its form inside the split window."""
    return _split_page(request, session, current, code, year)


@split_router.post("")
async def set_fee_split(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    code: Code,
    year: YearPath,
    city: Annotated[str, Form(max_length=10)],
    district: Annotated[str, Form(max_length=10)],
    grassroots: Annotated[str, Form(max_length=10)],
) -> Response:
    """The district's own split, inside the window; refused, the form keeps what was typed."""
    entered = {"city": city, "district": district, "grassroots": grassroots}

    def put() -> object:  # in a worker thread: the event loop never waits for the database
        data = FeeSplit.model_validate({k: v.strip() for k, v in entered.items()})
        return programme_years.put_fee_split(
            session=session, actor=current.actor, settings=settings, code=code, year=year, data=data
        )

    async def act() -> object:
        return await run_in_threadpool(put)

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return run_in_threadpool(_split_page, request, session, current, code, year, status, error, entered)

    return await decided(
        act,
        again=again,
        then=f"{PREFIX}/districts/{code}/fee-split/{year}",
        done="比例已保存",
        invalid={"code": "invalid_split", "message": "比例须为 0 到 100 的数字，三方之和为 100"},
    )
