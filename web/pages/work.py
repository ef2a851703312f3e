"""The work itself: the home page (what awaits me, the nearest deadlines), the inbox of tasks,
and a claim's page with its review."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from models.inputs import INT4_MAX, PAGE_MAX
from rules.calendar import today
from services import claims, programme_years, tasks
from services.claim_views import load_claim
from services.claims import EVIDENCE_MAX_BYTES, ClaimAmend, ClaimReview, ResubmitBody
from services.tasks import KIND_LABELS, Task
from web.deps import PREFIX, PageSession
from web.render import Again, answered, decided, page

router = APIRouter(include_in_schema=False)
INBOX_PAGE = 50
AWAITING_LABELS = {
    "clerk": "经办人",
    "grassroots_reviewer": "基层工会审核人",
    "secondary_reviewer": "二级工会审核人",
    "district_reviewer": "区局审核人",
    "center_reviewer": "职保中心",
}


def page_link(task: Task) -> str:
    """A task's page at the workbench where there is one, else its API address."""
    pages = {"claim": "claims", "enrollment": "enrollments", "card_batch": "card-batches"}
    if task.entity_type in pages:
        return f"{PREFIX}/{pages[task.entity_type]}/{task.entity_id}"
    return PREFIX + task.link if task.entity_type == "district_filing" else task.link


async def _tasks(session: SessionDep, current: PageSession, source: TemporalSourceDep, tz: str) -> list[Task]:
    return await tasks.my_tasks(session=session, actor=current.actor, source=source, tz=tz)


async def home(
    request: Request, session: SessionDep, current: PageSession, source: TemporalSourceDep, settings: SettingsDep
) -> HTMLResponse:
    found = await _tasks(session, current, source, settings.timezone)
    counts = sorted(
        Counter(t.kind for t in found).items(),
        key=lambda kv: list(KIND_LABELS).index(kv[0]) if kv[0] in KIND_LABELS else 99,
    )
    deadlines = programme_years.upcoming_deadlines(session=session, today=today(settings.timezone))
    reviewer = current.actor.role.value in ("reviewer", "center_reviewer", "admin")
    day = today(settings.timezone)
    years = (
        [  # the rounds under way: from the split window's opening to the end of coverage
            y.year
            for y in sorted(
                programme_years.list_programme_years(session=session, actor=current.actor), key=lambda y: -y.year
            )
            if y.config.split_window.start <= day <= y.config.coverage.end
        ][:12]
        if reviewer
        else []
    )
    return page(request, "home.html", current, counts=counts, deadlines=deadlines, kind_labels=KIND_LABELS, years=years)


async def _inbox(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    kind: str | None,
    page_no: int,
    template: str,
) -> HTMLResponse:
    found = [t for t in await _tasks(session, current, source, settings.timezone) if not kind or t.kind == kind]
    shown = found[(page_no - 1) * INBOX_PAGE : page_no * INBOX_PAGE]
    return page(
        request,
        template,
        current,
        tasks=shown,
        total=len(found),
        page=page_no,
        size=INBOX_PAGE,
        kind=kind,
        kind_labels=KIND_LABELS,
        page_link=page_link,
    )


@router.get(f"{PREFIX}/inbox", response_class=HTMLResponse)
async def inbox(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    kind: str | None = Query(None, max_length=40),
    page_no: int = Query(1, alias="page", ge=1, le=PAGE_MAX),
) -> HTMLResponse:
    """Everything waiting for me, a page at a time; it refreshes itself."""
    return await _inbox(request, session, current, source, settings, kind or None, page_no, "inbox.html")


@router.get(f"{PREFIX}/inbox/rows", response_class=HTMLResponse)
async def inbox_rows(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    kind: str | None = Query(None, max_length=40),
    page_no: int = Query(1, alias="page", ge=1, le=PAGE_MAX),
) -> HTMLResponse:
    return await _inbox(request, session, current, source, settings, kind or None, page_no, "inbox_rows.html")


async def _claim_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    claim_id: int,
    status_code: int = 200,
    error: Mapping[str, object] | None = None,
) -> HTMLResponse:
    view = await claims.read_claim(session=session, actor=current.actor, source=source, claim_id=claim_id)
    context = claims.claim_context(session=session, actor=current.actor, claim_id=claim_id)
    return page(
        request,
        "claim.html",
        current,
        status_code=status_code,
        claim=view,
        context=context,
        error=error,
        awaiting_label=AWAITING_LABELS.get(view.awaiting or ""),
    )


@router.get(f"{PREFIX}/claims/{{claim_id}}", response_class=HTMLResponse)
async def claim_page(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    claim_id: int = Path(ge=1, le=INT4_MAX),
) -> HTMLResponse:
    """A claim with its context, evidence, state machine and history, and the review form when it is mine."""
    return await _claim_page(request, session, current, source, claim_id)


@router.post(f"{PREFIX}/claims/{{claim_id}}/review")
async def review_claim(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    decision: Annotated[str, Form(max_length=7)],
    claim_id: int = Path(ge=1, le=INT4_MAX),
    step: Annotated[int, Form(ge=0, le=INT4_MAX)] = 0,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """The review form's decision, for the step the page showed (a second click: refused as stale).
    The answer is the claim's page as the decision left it (the service's own view: no second read);
    the browser's address becomes the claim's again."""

    async def act() -> Any:
        data = ClaimReview(decision=decision, reason=reason.strip() or None, step=step)
        return await claims.review(
            session=session, actor=current.actor, temporal=temporal, settings=settings, claim_id=claim_id, data=data
        )

    def shown(view: Any) -> Response:
        done = {"approve": "已审核通过", "return": "已退回", "reject": "已决定不予给付"}.get(decision, "已提交")
        awaiting = AWAITING_LABELS.get(view.awaiting or "")
        answer = page(request, "claim.html", current, claim=view, flash=done, awaiting_label=awaiting)
        answer.headers["HX-Push-Url"] = f"{PREFIX}/claims/{claim_id}"
        return answer

    invalid = {"code": "invalid_decision", "message": "请选择审核决定；退回或不予给付须填写原因"}
    return await answered(
        act, again=_claim_again(request, session, current, source, claim_id), answer=shown, invalid=invalid
    )


def _claim_again(
    request: Request, session: SessionDep, current: PageSession, source: TemporalSourceDep, claim_id: int
) -> Again:
    """The claim's page again, with a refusal."""

    def again(status: int, error: Mapping[str, object]) -> Awaitable[HTMLResponse]:
        return _claim_page(request, session, current, source, claim_id, status, error)

    return again


@router.post(f"{PREFIX}/claims/{{claim_id}}/resubmit")
async def resubmit_claim(
    request: Request,
    session: SessionDep,
    current: PageSession,
    source: TemporalSourceDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    description: Annotated[str, Form(max_length=1000)],
    claim_id: int = Path(ge=1, le=INT4_MAX),
    step: Annotated[int, Form(ge=0, le=INT4_MAX)] = 0,
    evidence: UploadFile | None = None,
) -> Response:
    """A returned claim amended, with more evidence, and sent back through eligibility."""

    async def act() -> None:
        claim, _ = load_claim(session, claim_id, current.actor)  # the row only: no workflow to ask
        if description.strip() != claim.description:
            amended = ClaimAmend(description=description.strip())
            claims.amend(session=session, actor=current.actor, claim_id=claim_id, data=amended)
        if evidence is not None and evidence.filename:
            body = await evidence.read(EVIDENCE_MAX_BYTES + 1)
            await claims.add_evidence(
                session=session, actor=current.actor, claim_id=claim_id, filename=evidence.filename,
                content_type=evidence.content_type, body=body,
            )  # fmt: skip
        await claims.resubmit(
            session=session, actor=current.actor, temporal=temporal, settings=settings, claim_id=claim_id,
            data=ResubmitBody(step=step),
        )  # fmt: skip

    return await decided(
        act,
        again=_claim_again(request, session, current, source, claim_id),
        then=f"{PREFIX}/claims/{claim_id}",
        done="已重新提交",
        invalid={"code": "invalid_request", "message": "申请说明至少 2 个字"},
    )
