"""A district's yearly filing with the Mutual Aid Center: submission inside the district window,
the payment voucher and the center's decision, and the statistics sheet (集中参保统计表)."""

from __future__ import annotations

from fastapi import APIRouter, Response, UploadFile

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep, YearPath
from services import filing_documents, filings
from services.filings import FilingView, VoucherDecision

router = APIRouter(prefix="/districts/{code}/enrollments/{year}", tags=["district filings"])


@router.get("")
def read_filing(code: str, year: YearPath, session: SessionDep, actor: CurrentActor) -> FilingView:
    """The district's filing for the year and every enrollment of its unions."""
    return filings.read_filing(session=session, actor=actor, code=code, year=year)


@router.post("/submit")
async def submit_filing(
    code: str, year: YearPath, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> FilingView:
    """File every approved and paid enrollment with the Mutual Aid Center, inside the district
    window only; afterwards nothing in the filing changes."""
    return await filings.submit_filing(
        session=session, actor=actor, temporal=temporal, settings=settings, code=code, year=year
    )


@router.post("/voucher")
async def upload_voucher(
    code: str,
    year: YearPath,
    file: UploadFile,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> FilingView:
    """The district's payment voucher (PDF, JPEG or PNG, up to 10 MB) after paying the center."""
    body = await file.read(filings.VOUCHER_MAX_BYTES + 1)
    return await filings.upload_voucher(
        session=session, actor=actor, temporal=temporal, settings=settings, code=code, year=year, body=body,
        filename=file.filename, content_type=file.content_type,
    )  # fmt: skip


@router.get("/voucher", response_class=Response)
def download_voucher(code: str, year: YearPath, session: SessionDep, actor: CurrentActor) -> Response:
    voucher = filings.voucher_file(session=session, actor=actor, code=code, year=year)
    return Response(voucher.content, media_type=voucher.media_type, headers=voucher.headers())


@router.post("/voucher/decision")
async def decide_voucher(
    code: str,
    year: YearPath,
    data: VoucherDecision,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> FilingView:
    """The Mutual Aid Center approves the voucher (the enrollments complete) or rejects it."""
    return await filings.decide_voucher(
        session=session, actor=actor, temporal=temporal, settings=settings, code=code, year=year, data=data
    )


@router.get("/statistics.xlsx", response_class=Response)
def statistics(code: str, year: YearPath, session: SessionDep, settings: SettingsDep, actor: CurrentActor) -> Response:
    """集中参保统计表: one row per union with its status, type, count, fee and split."""
    sheet = filing_documents.statistics(session=session, actor=actor, settings=settings, code=code, year=year)
    return Response(sheet.content, media_type=sheet.media_type, headers=sheet.headers())
