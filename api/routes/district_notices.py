"""The district's notice letter (区局参保告知书, seed 002 §4.5), for the district and the Mutual
Aid Center, once the district has submitted to the center: the filed enrollments per protection
type, the total and its split, the coverage, the late-payment rule and the center's account
(settings)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from api.deps import CurrentActor, SessionDep, SettingsDep, YearPath
from services import filing_documents

router = APIRouter(prefix="/districts/{code}/enrollments/{year}", tags=["district filings"])


@router.get("/notice", response_class=Response)
def district_notice(
    code: str,
    year: YearPath,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    format: str = Query("html", pattern="^(html|pdf)$"),
) -> Response:
    """区局参保告知书: members per protection type, the total, the coverage, the late-payment rule
    and the Mutual Aid Center's account; for the district and the center, after its submission."""
    notice = filing_documents.district_notice(
        session=session, actor=actor, settings=settings, code=code, year=year, pdf=format == "pdf"
    )
    return Response(notice.content, media_type=notice.media_type, headers=notice.headers())
