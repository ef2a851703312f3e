"""A district's yearly filing with the Mutual Aid Center: the filing view, submission inside the
district window, the payment voucher and the center's decision (its documents:
services.filing_documents)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from core.audit import audit_history, audit_public
from core.auth import Actor, require
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.programme import get_config
from core.settings import Settings
from documents.file_types import checked_type
from models.audit import AuditPublic
from models.enrollment import DistrictFiling, Enrollment, fee_lines
from models.inputs import MULTILINE, RequestBody
from models.org import Organisation
from models.states import DistrictFilingStatus, Role
from rules.money import amount
from services.downloads import Download
from services.extensions import with_extensions
from services.labels import StatusLabelled
from services.orgs import get_district
from services.workflow_calls import DecisionStep, actor_ref, run_update, start_workflow
from services.workflow_inputs import district_filing_input
from workflows.common import Act, Decision
from workflows.district_filing import (
    DistrictFilingInput,
    DistrictFilingWorkflow,
    FilingSummary,
    district_filing_workflow_id,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VOUCHER_TYPES = {"application/pdf", "image/jpeg", "image/png"}
VOUCHER_MAX_BYTES = 10 * 1024 * 1024


class EnrollmentLine(BaseModel):
    enrollment_id: int
    org_code: str
    org_name: str
    status: str
    protection_type: str | None
    members_by_type: dict[str, int] = Field(
        default_factory=dict, description="Enrolled members per protection type (several when types follow each card)."
    )
    enrolled: int
    total: str
    grassroots_share: str


class FilingView(StatusLabelled):
    district_code: str
    year: int
    status: DistrictFilingStatus
    enrollments: int
    members: int
    total: str
    voucher_name: str | None
    reject_reason: str | None
    window: str
    notice_url: str | None = Field(
        None, description="The district's notice letter (区局参保告知书) once submitted; `?format=pdf` for the PDF."
    )
    step: int = Field(description="The current step: what a decision on this view sends as its `step`.")
    actions: list[str]
    lines: list[EnrollmentLine]
    history: list[AuditPublic]


class VoucherDecision(RequestBody):
    approve: bool
    reason: Annotated[str | None, MULTILINE] = Field(None, max_length=300)
    step: DecisionStep


def district_of(session: Session, code: str, actor: Actor) -> Organisation:
    org = get_district(session, code)
    require(actor, org)
    return org


def filing_of(session: Session, code: str, year: int) -> DistrictFiling | None:
    return session.exec(
        select(DistrictFiling).where(DistrictFiling.district_code == code, DistrictFiling.year == year)
    ).first()


def _actions(actor: Actor, org: Organisation, status: DistrictFilingStatus) -> list[str]:
    out = []
    district = actor.is_admin or (actor.role is Role.REVIEWER and actor.org_id == org.id)
    if district and status is DistrictFilingStatus.OPEN:
        out.append("submit")
    if district and status in (DistrictFilingStatus.SUBMITTED, DistrictFilingStatus.VOUCHER_REJECTED):
        out.append("upload_voucher")
    if actor.role is Role.CENTER_REVIEWER and status is DistrictFilingStatus.VOUCHER_UPLOADED:  # not an admin
        out.append("decide_voucher")
    return out


def enrollments_of(session: Session, district_code: str, year: int) -> list[tuple[Enrollment, Organisation]]:
    """The district's enrollments of the year with their unions, by union code."""
    return list(
        session.exec(
            select(Enrollment, Organisation)
            .join(Organisation, col(Organisation.id) == col(Enrollment.org_id))
            .where(Enrollment.district_code == district_code, Enrollment.year == year)
            .order_by(col(Organisation.code))
        ).all()
    )


def _line(e: Enrollment, o: Organisation) -> EnrollmentLine:
    return EnrollmentLine(
        enrollment_id=e.id or 0,
        org_code=o.code,
        org_name=o.name,
        status=e.status.value,
        protection_type=e.protection_type,
        members_by_type={line.code: line.members for line in fee_lines(e)},
        enrolled=e.enrolled,
        total=amount(e.total_fen),
        grassroots_share=amount(e.grassroots_fen),
    )


def _view(session: Session, org: Organisation, year: int, actor: Actor) -> FilingView:
    config = with_extensions(session, get_config(session, year), year, org.code)
    filing = filing_of(session, org.code, year)
    rows = enrollments_of(session, org.code, year)
    events = audit_history(session, "district_filing", filing.id or 0) if filing else []
    status = filing.status if filing else DistrictFilingStatus.OPEN
    return FilingView(
        district_code=org.code,
        year=year,
        status=status,
        enrollments=filing.enrollments if filing else 0,
        members=filing.members if filing else 0,
        total=amount(filing.total_fen if filing else 0),
        voucher_name=filing.voucher_name if filing else None,
        reject_reason=filing.reject_reason if filing else None,
        window=config.district_window.label(),
        notice_url=f"/districts/{org.code}/enrollments/{year}/notice" if filing and filing.submitted_at else None,
        step=filing.last_step if filing else 0,
        actions=_actions(actor, org, status),
        lines=[_line(e, o) for e, o in rows],
        history=[audit_public(ev, org.code) for ev in events],
    )


def read_filing(*, session: Session, actor: Actor, code: str, year: int) -> FilingView:
    """The district's filing for the year and every enrollment of its unions, for those who may
    see the district."""
    return _view(session, district_of(session, code, actor), year, actor)


def _reviewing_district(session: Session, code: str, actor: Actor) -> Organisation:
    org = district_of(session, code, actor)
    require(actor, org, Role.REVIEWER)
    return org


def _filing_to_start(
    session: Session, settings: Settings, org: Organisation, year: int
) -> tuple[str, DistrictFilingInput]:
    config = with_extensions(session, get_config(session, year), year, org.code)
    filing = filing_of(session, org.code, year)
    if filing is None:
        filing = DistrictFiling(
            district_code=org.code,
            org_id=org.id or 0,
            year=year,
            workflow_id=district_filing_workflow_id(org.code, year),
        )
        session.add(filing)
        session.commit()
    inp = district_filing_input(
        config, settings.timezone, filing_id=filing.id or 0, district=(org.code, org.path), year=year
    )
    return filing.workflow_id, inp


async def _ensure_workflow(session: Session, settings: Settings, temporal: Client, org: Organisation, year: int) -> str:
    """The filing's workflow, started if it was not (its id)."""
    workflow_id, inp = await run_in_threadpool(_filing_to_start, session, settings, org, year)
    await start_workflow(
        session,
        temporal,
        DistrictFilingWorkflow.run,
        inp,
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return workflow_id


async def _update(
    session: Session, settings: Settings, temporal: Client, workflow_id: str, update: Any, arg: Any
) -> None:
    await run_update(
        temporal,
        workflow_id,
        update,
        arg,
        rpc_seconds=settings.update_timeout_seconds,
        result_type=FilingSummary,
        session=session,
    )
    session.expire_all()


# The async operations below do their database work in worker threads: the event loop never waits for it.
async def submit_filing(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, code: str, year: int
) -> FilingView:
    """The district's reviewer files every approved and paid enrollment with the Mutual Aid Center,
    inside the district window only (the workflow checks it); afterwards nothing in the filing changes."""
    org = await run_in_threadpool(_reviewing_district, session, code, actor)
    workflow_id = await _ensure_workflow(session, settings, temporal, org, year)
    await _update(session, settings, temporal, workflow_id, DistrictFilingWorkflow.submit, Act(actor_ref(actor)))
    return await run_in_threadpool(_view, session, org, year, actor)


def _voucher_filing(session: Session, org: Organisation, year: int) -> DistrictFiling:
    filing = filing_of(session, org.code, year)
    if filing is None or filing.status not in (DistrictFilingStatus.SUBMITTED, DistrictFilingStatus.VOUCHER_REJECTED):
        raise Conflict("not_allowed_now", "提交至职保中心后（或凭证被退回后）才能上传缴费凭证")
    return filing


def _store_voucher(session: Session, filing: DistrictFiling, body: bytes, name: str, content_type: str) -> str:
    """Store the voucher; the filing's workflow id."""
    filing.voucher, filing.voucher_name, filing.voucher_type = body, name, content_type
    workflow_id = filing.workflow_id
    session.add(filing)
    session.commit()
    return workflow_id


async def upload_voucher(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, code: str, year: int, body: bytes,
    filename: str | None, content_type: str | None,
) -> FilingView:  # fmt: skip
    """The district's payment voucher (PDF, JPEG or PNG, up to ``VOUCHER_MAX_BYTES``; ``body`` read
    up to one byte more), by its reviewer, once submitted or after the center rejected one."""
    org = await run_in_threadpool(_reviewing_district, session, code, actor)
    filing = await run_in_threadpool(_voucher_filing, session, org, year)
    if (content_type or "") not in VOUCHER_TYPES:
        raise Invalid("voucher_type", "缴费凭证须为 PDF、JPEG 或 PNG 文件", details={"field": "file"})
    if not body or len(body) > VOUCHER_MAX_BYTES:
        raise Invalid("voucher_size", "缴费凭证不能为空，且不超过10MB", details={"field": "file"})
    checked = checked_type(body, content_type, "缴费凭证", "voucher")
    name = (filename or "voucher")[:200]
    workflow_id = await run_in_threadpool(_store_voucher, session, filing, body, name, checked)
    act = Act(actor_ref(actor), f"上传缴费凭证 {name}")
    await _update(session, settings, temporal, workflow_id, DistrictFilingWorkflow.upload_voucher, act)
    return await run_in_threadpool(_view, session, org, year, actor)


def voucher_file(*, session: Session, actor: Actor, code: str, year: int) -> Download:
    """The uploaded voucher, for the district's reviewers, the center and admins (not clerks)."""
    org = district_of(session, code, actor)
    if actor.role is Role.CLERK:
        raise Forbidden("role_not_allowed", "缴费凭证仅供区局和职保中心查看")
    filing = filing_of(session, org.code, year)
    if filing is None or filing.voucher is None:
        raise NotFound("voucher_not_found", "尚未上传缴费凭证")
    return Download(
        content=filing.voucher,
        media_type=filing.voucher_type or "application/octet-stream",
        filename=f"voucher-{code}-{year}",
    )


async def decide_voucher(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, code: str, year: int,
    data: VoucherDecision,
) -> FilingView:  # fmt: skip
    """The Mutual Aid Center approves the voucher (the enrollments complete) or rejects it (the
    workflow checks the role and the step)."""
    org, filing = await run_in_threadpool(_decided_filing, session, code, year, actor)
    decision = Decision(actor_ref(actor), data.approve, data.reason or "", data.step)
    await _update(session, settings, temporal, filing.workflow_id, DistrictFilingWorkflow.decide_voucher, decision)
    return await run_in_threadpool(_decided_view, session, org, filing, year, actor, data)


def _decided_filing(session: Session, code: str, year: int, actor: Actor) -> tuple[Organisation, DistrictFiling]:
    org = district_of(session, code, actor)
    filing = filing_of(session, code, year)
    if filing is None:
        raise Conflict("not_allowed_now", "该区局尚未提交")
    return org, filing


def _decided_view(
    session: Session, org: Organisation, filing: DistrictFiling, year: int, actor: Actor, data: VoucherDecision
) -> FilingView:
    if not data.approve:
        filing.reject_reason = data.reason
        session.add(filing)
        session.commit()
    return _view(session, org, year, actor)
