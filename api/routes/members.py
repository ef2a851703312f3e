"""The member registry: template, lists (masked), one member, corrections."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep
from documents.workbooks import XLSX, template_xlsx
from models.inputs import PAGE_MAX
from models.member import MemberPage, MemberPublic, MemberUpdate
from models.states import CardStatus, EmploymentStatus
from services import members

router = APIRouter(tags=["members"])


@router.get("/members/template.xlsx", response_class=Response)
def template(_: CurrentActor) -> Response:
    """The import template with the Chinese headers and a sheet of allowed values."""
    return Response(
        template_xlsx(),
        media_type=XLSX,
        headers={"Content-Disposition": "attachment; filename*=UTF-8''member-template.xlsx"},
    )


@router.get("/orgs/{code}/members")
def list_members(
    code: str,
    session: SessionDep,
    actor: CurrentActor,
    card_status: CardStatus | None = None,
    employment_status: EmploymentStatus | None = None,
    q: str | None = Query(None, description="name, member number, or a full ID number or phone"),
    subtree: bool = Query(False, description="include the unions below this organisation (reviewers)"),
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(50, ge=1, le=500),
) -> MemberPage:
    """Members of a union (or, for reviewers, of a union in their subtree); ID and phone masked."""
    return members.list_members(
        session=session,
        actor=actor,
        code=code,
        card_status=card_status,
        employment_status=employment_status,
        q=q,
        subtree=subtree,
        page=page,
        size=size,
    )


@router.get("/members/{member_no}")
def read_member(
    member_no: str,
    session: SessionDep,
    actor: CurrentActor,
    reveal: bool = Query(False, description="show the full ID number and phone (audited)"),
) -> MemberPublic:
    return members.read_member(session=session, actor=actor, member_no=member_no, reveal=reveal)


@router.patch("/members/{member_no}")
async def correct_member(
    member_no: str,
    update: MemberUpdate,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> MemberPublic:
    """Correct ID expiry, phone, addresses, employment status (retired / deceased)."""
    return await members.correct_member(
        session=session, actor=actor, temporal=temporal, settings=settings, member_no=member_no, update=update
    )
