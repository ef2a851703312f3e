"""Card batches: the pending list, validation, submission, revocation, the roster."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from models.inputs import PAGE_MAX
from models.states import CardBatchStatus
from services import card_batches
from services.card_batch_views import BatchMemberView, BatchView
from services.card_batches import BatchCreate, MembersEdit, Reason, RevocationDecision, RevocationRequest

router = APIRouter(tags=["card batches"])


@router.post("/orgs/{code}/card-batches", status_code=status.HTTP_201_CREATED)
async def create_batch(
    code: str, data: BatchCreate, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Open a card batch (the pending list) for a grassroots union."""
    return await card_batches.open_batch(
        session=session, actor=actor, temporal=temporal, settings=settings, org_code=code, data=data
    )


@router.get("/orgs/{code}/card-batches")
async def list_batches(
    code: str,
    source: TemporalSourceDep,
    session: SessionDep,
    actor: CurrentActor,
    status: CardBatchStatus | None = None,
    overdue: bool | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(50, ge=1, le=500),
) -> list[BatchView]:
    """Batches of a union (or, for reviewers, of every union below the organisation), each with
    what its workflow keeps retrying (``waiting``)."""
    return await card_batches.list_batches(
        session=session, actor=actor, source=source, org_code=code, status=status, overdue=overdue, page=page,
        size=size,
    )  # fmt: skip


@router.get("/card-batches/{batch_id}")
async def read_batch(batch_id: int, source: TemporalSourceDep, session: SessionDep, actor: CurrentActor) -> BatchView:
    """Status, counts, the actions the caller may take now, the history, and (``waiting``) what
    its workflow keeps retrying, e.g. a submission the bank does not accept yet."""
    return await card_batches.read_batch(session=session, actor=actor, source=source, batch_id=batch_id)


@router.get("/card-batches/{batch_id}/members")
def batch_members(
    batch_id: int,
    session: SessionDep,
    actor: CurrentActor,
    check: str | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(100, ge=1, le=1000),
) -> list[BatchMemberView]:
    """Members of the batch with their check results and bank outcomes."""
    return card_batches.batch_members(
        session=session, actor=actor, batch_id=batch_id, check=check, page=page, size=size
    )


@router.post("/card-batches/{batch_id}/members")
async def add_members(
    batch_id: int,
    data: MembersEdit,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    """Add chosen members, or every member without a card, to the pending list."""
    return await card_batches.add_members(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
    )


@router.post("/card-batches/{batch_id}/members/remove")
async def remove_members(
    batch_id: int,
    data: MembersEdit,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    return await card_batches.remove_members(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
    )


@router.post("/card-batches/{batch_id}/members/remove-failed")
async def remove_failed(
    batch_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Remove every member who failed the check (they must go before submission)."""
    return await card_batches.remove_failed(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id
    )


@router.post("/card-batches/{batch_id}/validate")
async def validate_batch(
    batch_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """System validation of every member (retired, deceased, ID expiry, special channel)."""
    return await card_batches.validate(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id
    )


@router.post("/card-batches/{batch_id}/submit")
async def submit_batch(
    batch_id: int, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Submit a batch whose members all passed: it gets its batch number and goes to the bank."""
    return await card_batches.submit(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id
    )


@router.post("/card-batches/{batch_id}/cancel")
async def cancel_batch(
    batch_id: int, data: Reason, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    return await card_batches.cancel(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
    )


@router.post("/card-batches/{batch_id}/revocation")
async def request_revocation(
    batch_id: int,
    data: RevocationRequest,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    """Ask the district to revoke a submitted batch (refused once the bank has issued cards)."""
    return await card_batches.request_revocation(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
    )


@router.post("/card-batches/{batch_id}/revocation/decision")
async def decide_revocation(
    batch_id: int,
    data: RevocationDecision,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> BatchView:
    """A reviewer of the batch's district (or above) approves (members released) or rejects."""
    return await card_batches.decide_revocation(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
    )


@router.post("/card-batches/{batch_id}/resend")
async def resend_batch(
    batch_id: int, data: Reason, session: SessionDep, actor: CurrentActor, settings: SettingsDep, temporal: TemporalDep
) -> BatchView:
    """Admin: send a submitted batch to the bank again (the bank deduplicates by batch number)."""
    return await card_batches.resend(
        session=session, actor=actor, temporal=temporal, settings=settings, batch_id=batch_id, data=data
    )


@router.get("/card-batches/{batch_id}/roster.xlsx", response_class=Response)
def roster(batch_id: int, session: SessionDep, actor: CurrentActor) -> Response:
    """The bank's detail list (批量办理借记卡明细清单), full data: the batch's own clerks and reviewers only."""
    found = card_batches.roster(session=session, actor=actor, batch_id=batch_id)
    disposition = f"attachment; filename={found.filename}"
    return Response(found.body, media_type=found.media_type, headers={"Content-Disposition": disposition})
