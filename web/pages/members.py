"""The member registry at the workbench: a union's members (a reviewer's: with the unions below),
searched and filtered, a page at a time, ID numbers and phones masked; a member's page with their
claims and the clerk's application for a benefit with its evidence."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from core.errors import AppError
from models.inputs import PAGE_MAX
from models.member import MemberUpdate
from models.states import LABELS, CardStatus, ClaimKind, EmploymentStatus, IdType, Illness
from services import claims, members
from services.claims import EVIDENCE_MAX_BYTES, ClaimCreate
from web.deps import PREFIX, PageSession
from web.render import decided, page

MemberNoPath = Annotated[str, Path(pattern=r"^\d{10}$")]

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


async def _member_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    member_no: str,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
    correction: Mapping[str, object] | None = None,
    given: Mapping[str, str] | None = None,
) -> HTMLResponse:
    member = members.read_member(session=session, actor=current.actor, member_no=member_no, reveal=False)
    found = claims.member_claims(session=session, actor=current.actor, member_no=member_no)
    return page(
        request,
        "member.html",
        current,
        status_code=status_code,
        m=member,
        claims=found,
        error=error,
        correction=correction,
        given=given or {},
        kinds=list(LABELS[ClaimKind].items()),
        illnesses=list(LABELS[Illness].items()),
        id_types=list(LABELS[IdType].items()),
        employment=list(LABELS[EmploymentStatus].items()),
    )


@router.get("/members/{member_no}", response_class=HTMLResponse)
async def member_page(
    request: Request, session: SessionDep, current: PageSession, member_no: MemberNoPath
) -> HTMLResponse:
    """A member (masked), their claims, and the clerk's claim application."""
    return await _member_page(request, session, current, member_no)


@router.post("/members/{member_no}/claims")
async def apply(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    source: TemporalSourceDep,
    member_no: MemberNoPath,
    kind: Annotated[str, Form(max_length=30)],
    event_date: Annotated[str, Form(max_length=10)],
    description: Annotated[str, Form(max_length=1000)],
    illness: Annotated[str, Form(max_length=30)] = "",
    hospitalised: Annotated[str, Form(max_length=5)] = "",
    beneficiary_name: Annotated[str, Form(max_length=60)] = "",
    beneficiary_relation: Annotated[str, Form(max_length=20)] = "",
    evidence: UploadFile | None = None,
) -> Response:
    """The application and its first evidence; the answer is the claim's page (eligible or not, and why)."""
    given = {
        "kind": kind, "illness": illness or None, "hospitalised": hospitalised == "true", "event_date": event_date,
        "description": description.strip(), "beneficiary_name": beneficiary_name.strip() or None,
        "beneficiary_relation": beneficiary_relation.strip() or None,
    }  # fmt: skip

    async def act() -> tuple[int, str]:
        view = await claims.apply(
            session=session, actor=current.actor, temporal=temporal, source=source, settings=settings,
            member_no=member_no, data=ClaimCreate.model_validate(given),
        )  # fmt: skip
        if evidence is None or not evidence.filename:
            return view.id, "申请已提交"
        body = await evidence.read(EVIDENCE_MAX_BYTES + 1)
        try:
            await claims.add_evidence(
                session=session, actor=current.actor, claim_id=view.id, filename=evidence.filename,
                content_type=evidence.content_type, body=body,
            )  # fmt: skip
        except AppError as exc:  # the claim stands: its page says what became of the evidence
            return view.id, f"申请已提交；证明材料未上传：{exc.message}"
        return view.id, "申请已提交，证明材料已上传"

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _member_page(request, session, current, member_no, status, error)

    invalid = {
        "code": "invalid_request",
        "message": "申请内容不完整：重大疾病须选择疾病，意外身故须填写受益人，日期须有效",
    }
    return await decided(
        act, again=again, then=lambda made: f"{PREFIX}/claims/{made[0]}", done=lambda made: made[1], invalid=invalid
    )


@router.post("/members/{member_no}/corrections")
async def correct(
    request: Request,
    session: SessionDep,
    current: PageSession,
    settings: SettingsDep,
    temporal: TemporalDep,
    member_no: MemberNoPath,
    id_type: Annotated[str, Form(max_length=30)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
    id_expiry: Annotated[str, Form(max_length=20)] = "",
    phone: Annotated[str, Form(max_length=11)] = "",
    work_address: Annotated[str, Form(max_length=200)] = "",
    employment_status: Annotated[str, Form(max_length=20)] = "",
    nationality: Annotated[str, Form(max_length=40)] = "",
    retirement_date: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The clerk's corrections (only the fields filled in), by the import's rules; refused, the
    form comes back with what was typed and the refusal beside its field."""
    given = {
        "id_type": id_type,
        "id_number": id_number,
        "id_expiry": id_expiry,
        "phone": phone,
        "work_address": work_address,
        "employment_status": employment_status,
        "nationality": nationality,
        "retirement_date": retirement_date,
    }
    filled = {k: v.strip() for k, v in given.items() if v.strip()}

    async def act() -> object:
        update = MemberUpdate.model_validate(filled)
        return await members.correct_member(
            session=session, actor=current.actor, temporal=temporal, settings=settings, member_no=member_no,
            update=update,
        )  # fmt: skip

    def again(status: int, refused: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _member_page(request, session, current, member_no, status, correction=refused, given=filled)

    invalid = {
        "code": "invalid_request",
        "message": "填写的内容不正确：证件类型和在职状态须从列表中选择，手机号码 11 位",
    }
    return await decided(act, again=again, then=f"{PREFIX}/members/{member_no}", done="已保存修改", invalid=invalid)
