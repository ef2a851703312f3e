"""Extensions on the time-skipping server: a district's later payment deadline reaches its running
enrollments at once (one paid past the old deadline, one failing at the new one); the year's
registration window extended keeps a registration open past its old close, a district's window
its filing; the refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db import Database
from core.settings import Settings
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, CENTER, DISTRICT, config_around, put_year
from tests.workflows.conftest import user
from tests.workflows.recording import record
from tests.workflows.test_enrollment_year import (
    approved_enrollment,
    district_filing,
    server_today,
    union_with_members,
    year_config,
)
from tests.workflows.test_registration_timers import stage, start_registration, status_of
from workflows.common import Act
from workflows.district_filing import DistrictFilingWorkflow
from workflows.enrollment import EnrollmentWorkflow, Payment
from workflows.registration import RegistrationWorkflow


@pytest.fixture
async def skipping_api(
    skipping: tuple[WorkflowEnvironment, str], settings: Settings, db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """The API talking to the time-skipping server, where these tests' workflows run."""
    app = create_app(settings, db=db, temporal=skipping[0].client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as client:
        yield client


async def extend(api: httpx.AsyncClient, token: str, year: int, status: int, **body: object) -> dict[str, Any]:
    url, data = f"/programme-years/{year}/extensions", {"reason": "区局申请延长", **body}
    r = await api.post(url, json=data, headers=auth(token))
    assert r.status_code == status, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def test_an_extended_deadline_keeps_approved_enrollments_alive_and_fails_them_at_the_new_one(
    skipping: tuple[WorkflowEnvironment, str],
    skipping_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    env, queue = skipping
    year = 2057
    config = config_around(await server_today(env, settings))
    await put_year(api, tokens, year, config)
    deadline = year_config(db, year).payment_deadline  # server today + 5
    paying = await union_with_members(api, tokens, db, tmp_path, seed=5701)
    unpaid = await union_with_members(api, tokens, db, tmp_path, seed=5702)
    async with asyncio.timeout(120):
        first = await approved_enrollment(env, queue, db, settings, paying, year)
        second = await approved_enrollment(env, queue, db, settings, unpaid, year)
        await env.sleep(timedelta(days=3))
        new_date = deadline + timedelta(days=4)  # the district window ends on day 10: still before it
        made = await extend(skipping_api, tokens[DISTRICT], year, 201, kind="payment_deadline",
                            district_code="101", new_date=new_date.isoformat())  # fmt: skip
        assert made["reached"] == 2 and made["old_date"] == deadline.isoformat()
        await env.sleep(timedelta(days=4))  # past the end of the old deadline day
        assert (await first.query(EnrollmentWorkflow.summary)).status == "approved"
        assert (await second.query(EnrollmentWorkflow.summary)).status == "approved"
        district = user(db, "reviewer", "101")
        paid = await first.execute_update(EnrollmentWorkflow.record_payment, Payment(district, 1560, "延期内到账"))
        assert paid.status == "paid"
        await env.sleep(timedelta(days=4))  # past the new deadline
        failed = await second.result()
    assert failed.status == "failed_unpaid"
    with db.connect() as conn:
        summary = conn.execute(
            "SELECT summary FROM audit_events WHERE entity_type = 'enrollment' AND entity_id = %s "
            "AND action = 'enrollment.fail_unpaid'",
            (str(failed.enrollment_id),),
        ).fetchone()
    assert summary is not None and f"缴费截止日 {new_date.isoformat()} 前未缴费" in summary[0]
    await record(env.client, second.id, "EnrollmentWorkflow--extended-deadline-failed")

    listed = (await skipping_api.get(f"/programme-years/{year}/extensions", headers=auth(tokens[ADMIN]))).json()
    assert [(e["kind"], e["district_code"], e["new_date"]) for e in listed] == [
        ("payment_deadline", "101", new_date.isoformat())
    ]
    # Refusals: not later, not the district's to extend, a year-wide window for one district.
    again = await extend(skipping_api, tokens[DISTRICT], year, 409, kind="payment_deadline", district_code="101",
                         new_date=new_date.isoformat())  # fmt: skip
    assert again["error"]["code"] == "extension_not_later"
    other = await extend(skipping_api, tokens[DISTRICT], year, 403, kind="district_window", district_code="101",
                         new_date=(deadline + timedelta(days=20)).isoformat())  # fmt: skip
    assert other["error"]["code"] == "extension_not_allowed"
    scoped = await extend(skipping_api, tokens[CENTER], year, 422, kind="submission_window", district_code="101",
                          new_date=(deadline + timedelta(days=1)).isoformat())  # fmt: skip
    assert scoped["error"]["code"] == "extension_scope"
    late = await extend(skipping_api, tokens[CENTER], year, 422, kind="payment_deadline",
                        new_date=(deadline + timedelta(days=30)).isoformat())  # fmt: skip
    assert late["error"]["code"] == "extension_inconsistent"  # past the district window's end
    # The year's dates are in force: changing one with PUT points to extensions; the same dates pass.
    moved = {**config, "payment_deadline": (deadline + timedelta(days=1)).isoformat()}
    r = await api.put(f"/programme-years/{year}", json=moved, headers=auth(tokens[ADMIN]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "dates_in_force", r.text
    assert "延期" in r.json()["error"]["message"] and r.json()["error"]["details"]["fields"] == ["payment_deadline"]
    await put_year(api, tokens, year, {**config, "plan_name": "改名后的保障计划"})


async def test_an_extended_registration_window_stays_open_past_its_old_close(
    skipping: tuple[WorkflowEnvironment, str],
    skipping_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    env, queue = skipping
    year = 2058
    today = await server_today(env, settings)
    await put_year(api, tokens, year, {**config_around(today), "registration_window": {
        "start": (today + timedelta(days=2)).isoformat(), "end": (today + timedelta(days=6)).isoformat()}})  # fmt: skip
    code, clerk = await union_with_members(api, tokens, db, tmp_path, seed=5801)
    handle, window = await start_registration(env, queue, db, code, year, (2, 6))
    async with asyncio.timeout(120):
        await env.sleep(timedelta(days=3))
        await status_of(db, handle, "open")
        new_close = window.end + timedelta(days=10)
        made = await extend(skipping_api, tokens[CENTER], year, 201, kind="registration_window",
                            new_date=new_close.isoformat())  # fmt: skip
        assert made["reached"] == 1
        await env.sleep(timedelta(days=6))  # past the old close
        await status_of(db, handle, "open")
        with db.connect() as conn:
            cards = [r[0] for r in conn.execute(
                "SELECT c.card_no FROM cards c JOIN members m USING (member_no) JOIN organisations o "
                "ON o.id = m.org_id WHERE o.code = %s ORDER BY 1", (code,))]  # fmt: skip
            closes_on = conn.execute("SELECT closes_on FROM registrations WHERE workflow_id = %s", (handle.id,))
            assert closes_on.fetchone() == (new_close.isoformat(),)
        done = await handle.execute_update(RegistrationWorkflow.register, stage(db, clerk, cards[:1]))
        assert done.registered == 1
        summary = await handle.result()  # closes at the new close
    assert (summary.status, summary.counts.registered, summary.counts.lapsed) == ("closed", 1, 2)
    assert (await env.get_current_time()).date() >= new_close
    await record(env.client, handle.id, "RegistrationWorkflow--extended-window")


async def test_an_extended_district_window_takes_a_filing_past_its_old_close(
    skipping: tuple[WorkflowEnvironment, str],
    skipping_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    settings: Settings,
) -> None:
    env, queue = skipping
    year = 2059
    await put_year(api, tokens, year, config_around(await server_today(env, settings)))
    closes = year_config(db, year).district_window.end  # server today + 10
    filing = await district_filing(env, queue, db, settings, year)
    district = user(db, "reviewer", "101")
    async with asyncio.timeout(120):
        made = await extend(skipping_api, tokens[CENTER], year, 201, kind="district_window", district_code="101",
                            new_date=(closes + timedelta(days=5)).isoformat())  # fmt: skip
        assert made["reached"] == 1
        await env.sleep(timedelta(days=12))  # past the old close, before the new one
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await filing.execute_update(DistrictFilingWorkflow.submit, Act(district, ""))
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "nothing_to_file"  # inside the window: only nothing approved to file
    async with asyncio.timeout(120):
        await env.sleep(timedelta(days=5))
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await filing.execute_update(DistrictFilingWorkflow.submit, Act(district, ""))
    assert isinstance(caught.value.cause, ApplicationError)
    assert caught.value.cause.type == "outside_window" and str(closes + timedelta(days=5)) in caught.value.cause.message
