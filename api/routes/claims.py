"""Benefit claims (保障给付): application with evidence, review level by level, payout to the card."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, UploadFile, status

from api.deps import CurrentActor, SessionDep, SettingsDep, TemporalDep, TemporalSourceDep
from models.inputs import PAGE_MAX
from models.states import ClaimStatus
from services import claims
from services.claim_views import ClaimView, EvidencePublic
from services.claims import EVIDENCE_MAX_BYTES, ClaimAmend, ClaimCreate, ClaimReview, ResubmitBody

router = APIRouter(tags=["claims"])


@router.post("/members/{member_no}/claims", status_code=status.HTTP_201_CREATED)
async def apply(
    member_no: str,
    data: ClaimCreate,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
    source: TemporalSourceDep,
) -> ClaimView:
    """A clerk of the member's union applies; the answer waits for the eligibility check and
    names every reason a claim is not eligible (a check that cannot be made in time is answered
    with the claim as it is and ``waiting``: the workflow retries it)."""
    return await claims.apply(
        session=session,
        actor=actor,
        temporal=temporal,
        source=source,
        settings=settings,
        member_no=member_no,
        data=data,
    )


@router.get("/claims/{claim_id}")
async def read_claim(claim_id: int, session: SessionDep, actor: CurrentActor, source: TemporalSourceDep) -> ClaimView:
    """Status, level, amount, eligibility reasons, the caller's actions, evidence and history, and
    (``waiting``) what its workflow keeps retrying, e.g. a payout the bank does not accept yet."""
    return await claims.read_claim(session=session, actor=actor, source=source, claim_id=claim_id)


@router.get("/orgs/{code}/claims")
async def org_claims(
    code: str,
    session: SessionDep,
    actor: CurrentActor,
    source: TemporalSourceDep,
    status: ClaimStatus | None = None,
    page: int = Query(1, ge=1, le=PAGE_MAX),
    size: int = Query(50, ge=1, le=500),
) -> list[ClaimView]:
    """Claims of a union, or of every union below the organisation, each with what its workflow
    keeps retrying (``waiting``)."""
    return await claims.org_claims(
        session=session, actor=actor, source=source, code=code, status=status, page=page, size=size
    )


@router.get("/members/{member_no}/claims")
def member_claims(member_no: str, session: SessionDep, actor: CurrentActor) -> list[ClaimView]:
    return claims.member_claims(session=session, actor=actor, member_no=member_no)


@router.post("/claims/{claim_id}/review")
async def review(
    claim_id: int,
    data: ClaimReview,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> ClaimView:
    """The level whose turn it is approves (to the next level, or approved for payout), returns
    for more information, or rejects; return and reject need a reason."""
    return await claims.review(
        session=session, actor=actor, temporal=temporal, settings=settings, claim_id=claim_id, data=data
    )


@router.patch("/claims/{claim_id}")
def amend(claim_id: int, data: ClaimAmend, session: SessionDep, actor: CurrentActor) -> ClaimView:
    """The clerk amends a returned claim's description (then adds evidence and resubmits)."""
    return claims.amend(session=session, actor=actor, claim_id=claim_id, data=data)


@router.post("/claims/{claim_id}/resubmit")
async def resubmit(
    claim_id: int,
    data: ResubmitBody,
    session: SessionDep,
    actor: CurrentActor,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> ClaimView:
    """A returned claim goes back through eligibility and on to the level that returned it."""
    return await claims.resubmit(
        session=session, actor=actor, temporal=temporal, settings=settings, claim_id=claim_id, data=data
    )


@router.post("/claims/{claim_id}/evidence", status_code=status.HTTP_201_CREATED)
async def add_evidence(claim_id: int, file: UploadFile, session: SessionDep, actor: CurrentActor) -> EvidencePublic:
    """A diagnosis, hospital record, accident report or death certificate (PDF, JPEG, PNG; 10 MB)."""
    body = await file.read(EVIDENCE_MAX_BYTES + 1)
    return await claims.add_evidence(
        session=session,
        actor=actor,
        claim_id=claim_id,
        filename=file.filename,
        content_type=file.content_type,
        body=body,
    )


@router.get("/claims/{claim_id}/evidence/{evidence_id}", response_class=Response)
def download_evidence(claim_id: int, evidence_id: int, session: SessionDep, actor: CurrentActor) -> Response:
    """For the people who may see the claim (its union, the reviewers above it, the center)."""
    evidence = claims.evidence_file(session=session, actor=actor, claim_id=claim_id, evidence_id=evidence_id)
    return Response(
        evidence.data,
        media_type=evidence.content_type,
        headers={"Content-Disposition": f"attachment; filename=evidence-{evidence_id}"},
    )
