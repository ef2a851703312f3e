"""Claims, organisations, the audit log, tasks, admin repairs and imports through their services,
without HTTP: who is refused what (the same rules the API answers with), and a rule of each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from functools import partial
from pathlib import Path

import httpx
from sqlmodel import Session, select
from temporalio.client import Client

from core.auth import Actor
from core.db import Database
from core.errors import AppError
from core.settings import Settings
from models.claim import Claim
from models.member import Member
from models.org import Organisation, OrgCreate
from models.states import ClaimKind, ClaimStatus, OrgLevel
from models.user import User
from services import admin_repairs, audit_log, claims, imports, orgs, tasks
from services.claims import ClaimAmend
from services.sessions import actor_for_token, actor_of
from tests.enrollment_setup import carded_members, fresh_union

ACTORS = ("sh-admin", "sh-center-reviewer", "101-reviewer", "101-s01-reviewer", "101-0001-clerk", "104-0001-clerk")


def actor(session: Session, login: str) -> Actor:
    user = session.exec(select(User).where(User.login == login)).one()
    org = session.get(Organisation, user.org_id)
    assert org is not None
    return actor_of(user, org)


def code_of(call: Callable[[], object]) -> str:
    """The error code ``call`` is refused with, or "ok"."""
    try:
        call()
    except AppError as exc:
        return exc.code
    return "ok"


async def acode_of(call: Callable[[], Awaitable[object]]) -> str:
    try:
        await call()
    except AppError as exc:
        return exc.code
    return "ok"


def each(session: Session, call: Callable[..., object], **kw: object) -> dict[str, str]:
    """The code each demo actor's ``call`` is refused with ("ok" when it passes)."""
    return {who: code_of(partial(call, session=session, actor=actor(session, who), **kw)) for who in ACTORS}


async def aeach(session: Session, call: Callable[..., Awaitable[object]], **kw: object) -> dict[str, str]:
    return {who: await acode_of(partial(call, session=session, actor=actor(session, who), **kw)) for who in ACTORS}


def a_claim(session: Session, member_no: str, status: ClaimStatus = ClaimStatus.RETURNED) -> int:
    """A claim row of the member (no workflow: the services read and check the row)."""
    member = session.get(Member, member_no)
    assert member is not None
    claim = Claim(member_no=member_no, org_id=member.org_id, district_code="101", workflow_id="claim-x",
                  created_by=1, kind=ClaimKind.ACCIDENTAL_DISABILITY, event_date=date(2026, 1, 1),
                  description="服务层测试", status=status)  # fmt: skip
    session.add(claim)
    session.commit()
    return claim.id or 0


def test_organisations_and_the_audit_log_by_role(session: Session) -> None:
    made = each(session, orgs.add_org, data=OrgCreate(code="190", name="测试区总工会", level=OrgLevel.DISTRICT,
                                                      parent_code="SH"))  # fmt: skip
    assert made == {who: "ok" if who == "sh-admin" else "role_not_allowed" for who in ACTORS}
    children = each(session, orgs.children, code="101")
    assert children == {"sh-admin": "ok", "sh-center-reviewer": "ok", "101-reviewer": "ok",
                        "101-s01-reviewer": "outside_scope", "101-0001-clerk": "role_not_allowed",
                        "104-0001-clerk": "role_not_allowed"}  # fmt: skip
    assert {o.code for o in orgs.children(session=session, actor=actor(session, "101-reviewer"), code="101")} >= {
        "101-0001", "101-S01"
    }  # fmt: skip
    read = each(session, audit_log.list_audit, entity=None, limit=5)
    assert [w for w, c in read.items() if c == "ok"] == ["sh-admin", "sh-center-reviewer", "101-reviewer",
                                                        "101-s01-reviewer"]  # fmt: skip
    rows = audit_log.list_audit(session=session, actor=actor(session, "101-reviewer"), entity="organisation", limit=50)
    assert all(r.org_code is None or r.org_code.startswith("101") for r in rows)  # its subtree only


async def test_claims_are_read_and_amended_within_scope(
    session: Session, api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    org, token = await fresh_union(api, tokens, "101")
    (member_no,) = await carded_members(api, db, token, org, tmp_path, 1, seed=6354)
    clerk = actor_for_token(session, token)
    claim_id = a_claim(session, member_no)
    seen = each(session, claims.member_claims, member_no=member_no)
    assert seen == {"sh-admin": "ok", "sh-center-reviewer": "ok", "101-reviewer": "ok",
                    "101-s01-reviewer": "outside_scope", "101-0001-clerk": "outside_scope",
                    "104-0001-clerk": "outside_scope"}  # fmt: skip
    assert [c.id for c in claims.member_claims(session=session, actor=clerk, member_no=member_no)] == [claim_id]
    amend = ClaimAmend(description="补充了住院记录")
    assert code_of(lambda: claims.amend(session=session, actor=actor(session, "101-reviewer"), claim_id=claim_id,
                                        data=amend)) == "role_not_allowed"  # fmt: skip
    view = claims.amend(session=session, actor=clerk, claim_id=claim_id, data=amend)
    assert view.description == "补充了住院记录"
    done = a_claim(session, member_no, ClaimStatus.PAID)
    assert code_of(lambda: claims.amend(session=session, actor=clerk, claim_id=done, data=amend)) == "not_allowed_now"
    assert code_of(lambda: claims.evidence_file(session=session, actor=actor(session, "sh-admin"), claim_id=claim_id,
                                                evidence_id=10**6)) == "evidence_not_found"  # fmt: skip


async def test_tasks_admin_repairs_and_imports_by_role(
    session: Session, settings: Settings, temporal_client: Client, db: Database
) -> None:
    async def source() -> Client:
        return temporal_client

    for who in ACTORS:
        found = await tasks.my_tasks(session=session, actor=actor(session, who), source=source, tz=settings.timezone)
        assert all(t.kind != "retrying" or who in ("sh-admin", "101-0001-clerk", "104-0001-clerk") for t in found)
    listed = await aeach(session, admin_repairs.stuck_workflows, temporal=temporal_client, type=None, status=None,
                         org=None, stale_for=None, failing=False, overdue=False, include_closed=False, size=5,
                         page_token=None)  # fmt: skip
    assert listed == {who: "ok" if who == "sh-admin" else "role_not_allowed" for who in ACTORS}
    bad = await acode_of(lambda: admin_repairs.stuck_workflows(
        session=session, actor=actor(session, "sh-admin"), temporal=temporal_client, type=None, status=None, org=None,
        stale_for="three days", failing=False, overdue=False, include_closed=False, size=5,
        page_token=None))  # fmt: skip
    assert bad == "invalid_duration"

    read = False

    async def upload() -> AsyncIterator[bytes]:
        nonlocal read
        read = True
        yield b"x"

    for who, expected in (("101-reviewer", "role_not_allowed"), ("104-0001-clerk", "outside_scope")):
        got = await acode_of(partial(
            imports.create_import, session=session, db=db, actor=actor(session, who), temporal=temporal_client,
            settings=settings, code="101-0001", upload=upload(), filename="m.csv", wait=False))  # fmt: skip
        assert got == expected
    assert read is False  # refused before a byte of the file was read
    missing = await acode_of(lambda: imports.create_import(
        session=session, db=db, actor=actor(session, "101-0001-clerk"), temporal=temporal_client, settings=settings,
        code="101-0001", upload=None, filename=None, wait=False))  # fmt: skip
    assert missing == "file_required"
