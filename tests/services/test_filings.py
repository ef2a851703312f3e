"""District filings through the services, without HTTP: who sees a district's filing, its
statistics sheet, voucher and notice letter (the district, the organisations above it, admins; no
clerk, no union below it), who files and uploads (the district's reviewer), and the rules: nothing
approved and paid is not filed, no voucher before the filing is submitted, no notice letter
before it, the center decides a voucher only once one is uploaded."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from temporalio.client import Client

from core.errors import AppError, Forbidden
from core.settings import Settings
from models.programme import ProgrammeYearConfig
from models.states import DistrictFilingStatus
from rules.calendar import today
from services import filing_documents as documents
from services import filings, programme_years
from services.filings import VoucherDecision
from tests.enrollment_setup import config_around
from tests.services.actors import who

YEAR = 2087
DISTRICT = "101"
SEES = {"admin@SH", "center_reviewer@SH", "reviewer@101"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"



def refused(expected: str, error: AppError) -> None:
    assert error.code == expected, (error.code, error.message)


@pytest.fixture
def year(session: Session, tokens: dict[str, str], settings: Settings) -> int:
    """A year whose district window is open today."""
    config = ProgrammeYearConfig.model_validate(config_around(today(settings.timezone)))
    programme_years.put_programme_year(session=session, actor=who(session, tokens, "admin@SH"), year=YEAR, data=config)
    return YEAR


def test_who_sees_a_district_filing_and_its_documents(
    session: Session, tokens: dict[str, str], settings: Settings, year: int
) -> None:
    for key in sorted(tokens):
        actor = who(session, tokens, key)
        if key in SEES:
            view = filings.read_filing(session=session, actor=actor, code=DISTRICT, year=year)
            assert view.status is DistrictFilingStatus.OPEN and view.notice_url is None
            assert ("submit" in view.actions) is (key != "center_reviewer@SH")
            sheet = documents.statistics(session=session, actor=actor, settings=settings, code=DISTRICT, year=year)
            assert sheet.content[:2] == b"PK" and sheet.filename == f"statistics-{DISTRICT}-{year}.xlsx"
            with pytest.raises(AppError) as voucher:
                filings.voucher_file(session=session, actor=actor, code=DISTRICT, year=year)
            refused("voucher_not_found", voucher.value)
            with pytest.raises(AppError) as letter:
                documents.district_notice(session=session, actor=actor, settings=settings, code=DISTRICT, year=year,
                                        pdf=True)  # fmt: skip
            refused("not_submitted", letter.value)
        else:  # a union below the district, or a clerk
            with pytest.raises(Forbidden):
                filings.read_filing(session=session, actor=actor, code=DISTRICT, year=year)
            with pytest.raises(Forbidden):
                documents.statistics(session=session, actor=actor, settings=settings, code=DISTRICT, year=year)
            with pytest.raises(Forbidden):
                filings.voucher_file(session=session, actor=actor, code=DISTRICT, year=year)
            with pytest.raises(Forbidden):
                documents.district_notice(session=session, actor=actor, settings=settings, code=DISTRICT, year=year,
                                        pdf=False)  # fmt: skip


async def test_the_district_reviewer_files_and_uploads(
    session: Session, tokens: dict[str, str], settings: Settings, temporal_client: Client, worker: None, year: int
) -> None:
    async def submit(key: str) -> filings.FilingView:
        return await filings.submit_filing(
            session=session, actor=who(session, tokens, key), temporal=temporal_client, settings=settings,
            code=DISTRICT, year=year,
        )  # fmt: skip

    async def upload(key: str) -> filings.FilingView:
        return await filings.upload_voucher(
            session=session, actor=who(session, tokens, key), temporal=temporal_client, settings=settings,
            code=DISTRICT, year=year, body=PDF, filename="voucher.pdf", content_type="application/pdf",
        )  # fmt: skip

    for key in sorted(set(tokens) - {"admin@SH", "reviewer@101"}):
        with pytest.raises(Forbidden):  # the center reviews, it does not file; unions below and clerks neither
            await submit(key)
        with pytest.raises(Forbidden):
            await upload(key)
    with pytest.raises(AppError) as nothing:  # the workflow files approved and paid enrollments only
        await submit("reviewer@101")
    refused("nothing_to_file", nothing.value)
    with pytest.raises(AppError) as early:
        await upload("reviewer@101")
    refused("not_allowed_now", early.value)
    view = filings.read_filing(session=session, actor=who(session, tokens, "center_reviewer@SH"), code=DISTRICT,
                               year=year)  # fmt: skip
    assert view.status is DistrictFilingStatus.OPEN and view.enrollments == 0

    async def decide(key: str) -> filings.FilingView:
        return await filings.decide_voucher(
            session=session, actor=who(session, tokens, key), temporal=temporal_client, settings=settings,
            code=DISTRICT, year=year, data=VoucherDecision(approve=True, step=view.step),
        )  # fmt: skip

    with pytest.raises(Forbidden):
        await decide("clerk@101-0001")
    with pytest.raises(AppError) as no_voucher:  # the workflow: nothing uploaded to decide on
        await decide("center_reviewer@SH")
    refused("not_allowed_now", no_voucher.value)
