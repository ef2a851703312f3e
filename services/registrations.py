"""Yearly card registration (年度注册): a union's registration, registering its cards, and the
admin's opener that creates every union's registration for a year."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, delete, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from core import search_attributes as search
from core.audit import audit_history, audit_public
from core.auth import Actor, require, require_role
from core.errors import AppError, Invalid, NotFound
from core.settings import Settings
from models.audit import AuditPublic
from models.card_lifecycle import Registration
from models.enrollment import MemberSelection
from models.inputs import ITEMS_MAX, CardNo, RequestBody
from models.org import Organisation
from models.states import RegistrationStatus, Role
from services.labels import StatusLabelled
from services.orgs import get_org, require_card_work
from services.workflow_calls import actor_ref, run_update
from workflows.common import Selection
from workflows.registration import RegisterResult, RegistrationWorkflow
from workflows.registration_year import RegistrationYearInput, RegistrationYearWorkflow, registration_year_workflow_id


class RegisterRequest(RequestBody):
    model_config = ConfigDict(populate_by_name=True)

    card_nos: list[CardNo] = Field(default_factory=list, max_length=ITEMS_MAX)
    all_cards: bool = Field(False, alias="all", description="every card of the union, lapsed ones too")


class RegistrationView(StatusLabelled):
    org_code: str
    year: int
    status: RegistrationStatus
    opens_on: str
    closes_on: str
    registered: int = Field(description="members with a card registered for the year")
    lapsed: int = Field(description="members whose card lapsed (counted when the window closes)")
    actions: list[str]
    history: list[AuditPublic]
    updated_at: datetime


class RegisterOutcome(BaseModel):
    registered_now: int = Field(description="cards newly registered by this request")
    registration: RegistrationView


class OpenerStarted(BaseModel):
    year: int
    workflow_id: str
    status: str = Field(description="started, or already_running")


def _load(session: Session, code: str, year: int, actor: Actor) -> tuple[Registration, Organisation]:
    """A union's registration for the year, in the actor's scope."""
    org = get_org(session, code)
    require(actor, org)
    registration = session.exec(
        select(Registration).where(Registration.org_id == org.id, Registration.year == year)
    ).first()
    if registration is None:
        raise NotFound("registration_not_found", f"{org.name}的{year}年度注册尚未安排")
    return registration, org


def _view(session: Session, registration: Registration, org: Organisation, actor: Actor) -> RegistrationView:
    events = audit_history(session, "registration", registration.id or 0)
    acts = actor.is_admin or (actor.role is Role.CLERK and actor.org_id == org.id)
    return RegistrationView(
        org_code=org.code,
        year=registration.year,
        status=registration.status,
        opens_on=registration.opens_on,
        closes_on=registration.closes_on,
        registered=registration.registered,
        lapsed=registration.lapsed,
        actions=["register"] if acts and registration.status is RegistrationStatus.OPEN else [],
        history=[audit_public(e, org.code) for e in events],
        updated_at=registration.updated_at,
    )


def read_registration(*, session: Session, actor: Actor, org_code: str, year: int) -> RegistrationView:
    """The union's registration for the year: window, status, counts, actions, history."""
    return _view(session, *_load(session, org_code, year, actor), actor)


async def register_cards(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, org_code: str, year: int,
    data: RegisterRequest,
) -> RegisterOutcome:  # fmt: skip
    """Register chosen cards or every card of the union for the year, while the window is open:
    all or nothing (the workflow names the cards it refuses, 409 ``cards_unavailable``)."""
    workflow_id, selection_id = await run_in_threadpool(_stage, session, org_code, year, data, actor)
    try:
        result: RegisterResult = await run_update(
            temporal,
            workflow_id,
            RegistrationWorkflow.register,
            Selection(actor_ref(actor), selection_id),
            rpc_seconds=settings.update_timeout_seconds,
            result_type=RegisterResult,
            session=session,
        )
    except AppError as exc:
        if exc.status_code < 500:  # refused: the staged selection is not needed any more
            await run_in_threadpool(_unstage, session, selection_id)
        raise
    view = await run_in_threadpool(_fresh, session, org_code, year, actor)
    return RegisterOutcome(registered_now=result.registered, registration=view)


# The database work of the function above runs in worker threads: the event loop never waits for it.
def _stage(session: Session, code: str, year: int, data: RegisterRequest, actor: Actor) -> tuple[str, int]:
    """The cards to register, staged for the workflow: (its id, the selection's id)."""
    registration, org = _load(session, code, year, actor)
    require(actor, org, Role.CLERK)
    require_card_work(org)
    if not data.card_nos and not data.all_cards:
        raise Invalid("cards_required", "请选择要注册的卡号，或选择全部")
    selection = MemberSelection(
        purpose="register", items=data.card_nos, everything=data.all_cards, created_by=actor.user_id
    )
    session.add(selection)
    session.commit()
    return registration.workflow_id, selection.id or 0


def _unstage(session: Session, selection_id: int) -> None:
    session.exec(delete(MemberSelection).where(col(MemberSelection.id) == selection_id))
    session.commit()


def _fresh(session: Session, code: str, year: int, actor: Actor) -> RegistrationView:
    session.expire_all()
    return _view(session, *_load(session, code, year, actor), actor)


async def open_registrations(*, actor: Actor, temporal: Client, settings: Settings, year: int) -> OpenerStarted:
    """Admin: create every card-work union's registration for the year now (the schedule
    ``registration-yearly`` does it on 1 April). Safe to repeat: existing ones are kept, unions
    added since get theirs, a window already over is not opened."""
    require_role(actor, Role.ADMIN)
    workflow_id = registration_year_workflow_id(year)
    try:
        await temporal.start_workflow(
            RegistrationYearWorkflow.run,
            RegistrationYearInput(year, settings.timezone),
            id=workflow_id,
            task_queue=settings.task_queue,
            search_attributes=search.at_start("registration_year", "running"),
        )
    except WorkflowAlreadyStartedError:
        return OpenerStarted(year=year, workflow_id=workflow_id, status="already_running")
    return OpenerStarted(year=year, workflow_id=workflow_id, status="started")


def registration_years(*, session: Session, actor: Actor, org_code: str) -> list[int]:
    """The years a union has a registration for, the latest first."""
    org = get_org(session, org_code)
    require(actor, org)
    rows = session.exec(select(Registration.year).where(Registration.org_id == org.id)).all()
    return sorted(rows, reverse=True)
