"""An enrollment year on the time-skipping server: the payment deadline failing an unpaid
enrollment, the district window opening, the voucher completing the enrollments, coverage
expiring: a year in seconds."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.db import Database
from core.programme import read_config
from core.settings import Settings
from models.programme import ProgrammeYearConfig
from services.workflow_inputs import district_filing_input, enrollment_input
from tests.conftest import auth
from tests.enrollment_setup import DISTRICT, carded_members, config_around, fresh_union, put_year
from tests.workflows.conftest import user
from tests.workflows.recording import record
from workflows.common import Act, ActorRef, Decision
from workflows.district_filing import DistrictFilingWorkflow, FilingSummary
from workflows.enrollment import EnrollmentInput, EnrollmentSummary, EnrollmentWorkflow, Payment, SubmitEnrollment


async def server_today(env: WorkflowEnvironment, settings: Settings) -> date:
    """The time-skipping server's day (earlier tests in the module may have moved its clock)."""
    return (await env.get_current_time()).astimezone(ZoneInfo(settings.timezone)).date()


def org_row(db: Database, code: str) -> tuple[int, str]:
    with db.connect() as conn:
        row = conn.execute("SELECT id, path FROM organisations WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def clerk_of(db: Database, code: str) -> ActorRef:
    return user(db, "clerk", code)


def year_config(db: Database, year: int) -> ProgrammeYearConfig:
    with db.connect() as conn:
        config = read_config(conn, year)
    assert config is not None
    return config


def staged_enrollment(db: Database, settings: Settings, code: str, year: int, clerk: ActorRef) -> EnrollmentInput:
    org_id, path = org_row(db, code)
    with db.connect() as conn:
        row = conn.execute(
            """INSERT INTO enrollments (org_id, year, kind, status, district_code, members_total, enrolled,
                   awaiting_confirmation, no_card, retired, deceased, removed, total_fen, city_fen, district_fen,
                   grassroots_fen, workflow_id, created_by, created_at, updated_at)
               VALUES (%s, %s, 'regular', 'draft', '101', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '', %s, now(), now())
               RETURNING id""",
            (org_id, year, clerk.user_id),
        ).fetchone()
        assert row is not None
        conn.execute("UPDATE enrollments SET workflow_id = %s WHERE id = %s", (f"ts-enrollment-{row[0]}", row[0]))
        conn.commit()
    return enrollment_input(
        year_config(db, year),
        settings.timezone,
        enrollment_id=int(row[0]),
        org=(code, path),
        district_code="101",
        secondary_code=None,
        year=year,
        kind="regular",
    )


async def approved_enrollment(
    env: WorkflowEnvironment,
    queue: str,
    db: Database,
    settings: Settings,
    union: tuple[str, ActorRef],
    year: int,
) -> WorkflowHandle[EnrollmentWorkflow, EnrollmentSummary]:
    code, clerk = union
    inp = staged_enrollment(db, settings, code, year, clerk)
    handle = await env.client.start_workflow(
        EnrollmentWorkflow.run, inp, id=f"ts-enrollment-{inp.enrollment_id}", task_queue=queue
    )
    counts = await handle.execute_update(EnrollmentWorkflow.roster_ready)
    assert counts.enrolled == 3
    summary = await handle.execute_update(EnrollmentWorkflow.submit, SubmitEnrollment(clerk, "A"))
    assert summary.status == "district_review" and summary.fee.grassroots_fen == 1560  # 78.00 x 20%
    district = user(db, "reviewer", "101")
    summary = await handle.execute_update(EnrollmentWorkflow.review, Decision(district, True, ""))
    assert summary.status == "approved"
    return handle


async def union_with_members(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, seed: int
) -> tuple[str, ActorRef]:
    code, token = await fresh_union(api, tokens, "101")
    await carded_members(api, db, token, code, tmp_path, 3, seed=seed)
    return code, clerk_of(db, code)


async def test_unpaid_at_the_deadline_fails_and_nobody_is_covered(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    env, queue = skipping
    year = 2051
    await put_year(api, tokens, year, config_around(await server_today(env, settings)))
    union = await union_with_members(api, tokens, db, tmp_path, seed=5101)
    async with asyncio.timeout(90):
        handle = await approved_enrollment(env, queue, db, settings, union, year)
        await env.sleep(timedelta(days=3))
        assert (await handle.query(EnrollmentWorkflow.summary)).status == "approved"
        await env.sleep(timedelta(days=4))  # past the end of the deadline day (today + 5)
        result = await handle.result()
    assert result.status == "failed_unpaid"
    district = user(db, "reviewer", "101")
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await handle.execute_update(EnrollmentWorkflow.record_payment, Payment(district, 1560, "late"))
    with db.connect() as conn:
        status, awaiting = conn.execute(  # type: ignore[misc]
            "SELECT status, awaiting FROM enrollments WHERE id = %s", (result.enrollment_id,)
        ).fetchone()
        audit = conn.execute(
            "SELECT action, summary FROM audit_events WHERE entity_type = 'enrollment' AND entity_id = %s "
            "ORDER BY id DESC LIMIT 1",
            (str(result.enrollment_id),),
        ).fetchone()
    assert status == "failed_unpaid" and awaiting is None
    await record(env.client, handle.id, "EnrollmentWorkflow--failed-unpaid")
    assert audit is not None and audit[0] == "enrollment.fail_unpaid" and "未缴费" in audit[1]
    # Paid late over HTTP: the answer says when it failed and what to do now, in the programme's days.
    url, headers = f"/enrollments/{result.enrollment_id}", auth(tokens[DISTRICT])
    step = (await api.get(url, headers=headers)).json()["step"]
    r = await api.post(f"{url}/payment", json={"amount": "15.60", "reference": "迟到", "step": step}, headers=headers)
    assert r.status_code == 409, r.text
    error, deadline = r.json()["error"], year_config(db, year).payment_deadline
    assert error["code"] == "enrollment_failed_unpaid"
    assert error["details"]["failed_on"] == (deadline + timedelta(days=1)).isoformat()  # at 24:00 of the deadline
    assert f"缴费截止日 {deadline.isoformat()} 前未缴费" in error["message"] and "即时参保" in error["message"]


async def test_a_whole_year_from_payment_to_expiry(
    skipping: tuple[WorkflowEnvironment, str],
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    env, queue = skipping
    year = 2052
    today = await server_today(env, settings)
    config = config_around(today, district=(2, 10))
    await put_year(api, tokens, year, config)
    union = await union_with_members(api, tokens, db, tmp_path, seed=5201)
    district = user(db, "reviewer", "101")
    center = user(db, "center_reviewer", "SH")
    async with asyncio.timeout(120):
        handle = await approved_enrollment(env, queue, db, settings, union, year)
        with pytest.raises(WorkflowUpdateFailedError) as wrong:
            await handle.execute_update(EnrollmentWorkflow.record_payment, Payment(district, 1000, "R"))
        assert isinstance(wrong.value.cause, ApplicationError) and wrong.value.cause.type == "amount_mismatch"
        paid = await handle.execute_update(EnrollmentWorkflow.record_payment, Payment(district, 1560, "R-1"))
        assert paid.status == "paid"
        filing = await district_filing(env, queue, db, settings, year)
        with pytest.raises(WorkflowUpdateFailedError) as early:
            await filing.execute_update(DistrictFilingWorkflow.submit, Act(district))
        assert isinstance(early.value.cause, ApplicationError) and early.value.cause.type == "outside_window"
        await env.sleep(timedelta(days=8))  # the district window is open; the payment deadline has passed
        assert (await handle.query(EnrollmentWorkflow.summary)).status == "paid"  # paid: the deadline spares it
        filed = await filing.execute_update(DistrictFilingWorkflow.submit, Act(district))
        assert filed.totals.enrollments >= 1
        await until_status(handle, "filed")
        await filing.execute_update(DistrictFilingWorkflow.upload_voucher, Act(district, "voucher.pdf"))
        await filing.execute_update(DistrictFilingWorkflow.decide_voucher, Decision(center, True, ""))
        await until_status(handle, "completed")
        await env.sleep(timedelta(days=400))  # past coverage end (today + 385)
        result = await handle.result()
        assert (await filing.result()).status == "approved"
    assert result.status == "expired"
    await record(env.client, handle.id, "EnrollmentWorkflow--whole-year")
    await record(env.client, filing.id, "DistrictFilingWorkflow--voucher-approved")
    with db.connect() as conn:
        row = conn.execute(
            "SELECT status, coverage_start, coverage_end FROM enrollments WHERE id = %s", (result.enrollment_id,)
        ).fetchone()
    assert row is not None and row[0] == "expired"
    assert row[1] == today + timedelta(days=20) and row[2] == today + timedelta(days=385)


async def district_filing(
    env: WorkflowEnvironment, queue: str, db: Database, settings: Settings, year: int
) -> WorkflowHandle[DistrictFilingWorkflow, FilingSummary]:
    district_id, path = org_row(db, "101")
    with db.connect() as conn:
        row = conn.execute(
            """INSERT INTO district_filings (district_code, org_id, year, status, enrollments, members, total_fen,
                   workflow_id, created_at, updated_at)
               VALUES ('101', %s, %s, 'open', 0, 0, 0, %s, now(), now()) RETURNING id""",
            (district_id, year, f"ts-district-101-{year}"),
        ).fetchone()
        conn.commit()
    assert row is not None
    inp = district_filing_input(
        year_config(db, year), settings.timezone, filing_id=int(row[0]), district=("101", path), year=year
    )
    return await env.client.start_workflow(
        DistrictFilingWorkflow.run, inp, id=f"ts-district-101-{year}", task_queue=queue
    )


async def until_status(handle: WorkflowHandle[EnrollmentWorkflow, EnrollmentSummary], status: str) -> None:
    for _ in range(200):
        if (await handle.query(EnrollmentWorkflow.summary)).status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never reached {status}")
