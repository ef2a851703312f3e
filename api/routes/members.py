"""The member registry: template, lists (masked), one member, corrections."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, or_
from sqlmodel import col, select

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep
from api.routes.batch_edits import recheck_open_batch
from core.audit import audit_action
from core.auth import require
from documents.workbooks import template_xlsx
from models.inputs import LABELS, PAGE_MAX
from models.member import Member, MemberPage, MemberPublic, MemberUpdate
from models.org import Organisation
from models.states import CardStatus, EmploymentStatus, Role
from rules.calendar import today
from services.members import apply_correction, get_member, to_public
from services.orgs import get_org

router = APIRouter(tags=["members"])
FIELD_LABELS = {**LABELS, "id_long_term": "证件长期有效"}  # how the audit names the fields corrected
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    org = get_org(session, code)
    require(actor, org)
    if subtree:
        below = select(Organisation.id).where(col(Organisation.path).startswith(org.path))
        query = select(Member).where(col(Member.org_id).in_(below))
    else:
        query = select(Member).where(Member.org_id == org.id)
    if card_status:
        query = query.where(Member.card_status == card_status)
    if employment_status:
        query = query.where(Member.employment_status == employment_status)
    if q:
        text = q.strip()
        query = query.where(
            or_(
                col(Member.name).contains(text),
                col(Member.member_no).startswith(text),
                col(Member.id_number) == text.upper(),
                col(Member.phone) == text,
            )
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = session.exec(query.order_by(Member.member_no).offset((page - 1) * size).limit(size)).all()
    codes = {
        o.id: o.code
        for o in session.exec(select(Organisation).where(col(Organisation.id).in_({m.org_id for m in items})))
    }
    return MemberPage(total=total, page=page, size=size, items=[to_public(m, codes[m.org_id]) for m in items])


@router.get("/members/{member_no}")
def read_member(
    member_no: str,
    session: SessionDep,
    actor: CurrentActor,
    reveal: bool = Query(False, description="show the full ID number and phone (audited)"),
) -> MemberPublic:
    member, org = get_member(session, member_no)
    require(actor, org)
    view = to_public(member, org.code, reveal=reveal)
    if reveal:
        audit_action(
            session, actor, "member.revealed", ("member", member_no), "查看完整证件号码和手机号码", org_id=org.id
        )
        session.commit()
    return view


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

    def correct() -> tuple[MemberPublic, bool]:  # in a worker thread: the event loop never waits for the database
        member, org = get_member(session, member_no)
        require(actor, org, Role.CLERK)
        changed = apply_correction(session, member, update, today(settings.timezone))
        if changed:
            fields = "、".join(FIELD_LABELS.get(k, k) for k in changed)
            audit_action(
                session, actor, "member.corrected", ("member", member_no), "修改字段：" + fields,
                org_id=org.id,
            )  # fmt: skip
            session.commit()
            session.refresh(member)
        return to_public(member, org.code), bool(changed)

    view, changed = await run_in_threadpool(correct)
    if changed:
        await recheck_open_batch(session, temporal, settings, actor, member_no)
    return view
