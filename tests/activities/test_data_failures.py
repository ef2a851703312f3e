"""Data an activity cannot store fails at once and is never retried: an update whose work meets
it answers with a coded 4xx within seconds, and the workflow takes the next valid message.

The bad values are staged in the database and sent straight to the workflow, past the API's
own checks at the door, as a client of Temporal could."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.failures import DATA_INVALID, RECORD_MISSING, data_failure, found
from core.db import Database
from core.errors import AppError
from rules.calendar import today
from services.workflow_calls import run_update
from tests.api.helpers import call, until
from tests.enrollment_setup import ADMIN, carded_members, config_around, fresh_union, put_year
from workflows.card_batch import CardBatchWorkflow, EditMembers, EditResult
from workflows.common import Act, ActorRef, Selection
from workflows.enrollment import EnrollmentWorkflow, RosterEditResult
from workflows.registration import RegisterResult, RegistrationWorkflow

BAD = ["\ud800", "a\x00b"]  # a lone surrogate; a NUL
TODAY = today("Asia/Shanghai")


def clerk_of(db: Database, org: str) -> ActorRef:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT u.id, u.name, o.path FROM users u JOIN organisations o ON o.id = u.org_id "
            "WHERE u.role = 'clerk' AND o.code = %s ORDER BY u.id LIMIT 1",
            (org,),
        ).fetchone()
    assert row is not None
    return ActorRef(int(row[0]), str(row[1]), "clerk", org, str(row[2]))


def workflow_of(db: Database, sql: str, *args: Any) -> str:
    with db.connect() as conn:
        row = conn.execute(sql, args).fetchone()
    assert row is not None
    return str(row[0])


def stage(db: Database, sql: str, *args: Any) -> int:
    """A staged request or selection written as a client could (the JSON holds the bad text)."""
    with db.connect() as conn:
        row = conn.execute(sql, args).fetchone()
        conn.commit()
    assert row is not None
    return int(row[0])


async def refused_at_once(client: Client, workflow_id: str, update: Any, arg: Any, result_type: Any) -> AppError:
    started = time.monotonic()
    with pytest.raises(AppError) as refused:
        await run_update(client, workflow_id, update, arg, rpc_seconds=30, result_type=result_type)
    assert time.monotonic() - started < 10  # no retries: the first attempt's failure is the answer
    return refused.value


def test_data_failures_are_sorted_without_quoting_the_data() -> None:
    try:
        "310105198102030216\ud800".encode()
    except UnicodeEncodeError as exc:
        refused = data_failure(exc)
    assert refused is not None and refused.type == DATA_INVALID and refused.non_retryable
    assert "310105198102030216" not in str(refused) + repr(refused.details)
    missing = data_failure(_missing())
    assert missing is not None and missing.type == RECORD_MISSING and missing.details[0]["record"] == "claims"
    assert data_failure(ConnectionError("lost")) is None and data_failure(TimeoutError()) is None
    assert data_failure(ApplicationError("own answer", type="x")) is None


def _missing() -> LookupError:
    try:
        found(None, "claims")
    except LookupError as exc:
        return exc
    raise AssertionError


async def test_a_batch_edit_with_bad_member_numbers_is_refused_and_the_next_edit_works(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, temporal_client: Client, tmp_path: Path
) -> None:
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 3, seed=8801)
    with db.connect() as conn:  # free for a card batch again
        conn.execute("UPDATE members SET card_status = 'none', card_no = NULL WHERE member_no = ANY(%s)", (nos,))
        conn.commit()
    batch = await call(api, clerk, "POST", f"/orgs/{org}/card-batches", 201, json={"bank_branch": "工行测试支行"})
    url = f"/card-batches/{batch['id']}"
    await call(api, clerk, "POST", f"{url}/members", 200, json={"member_nos": nos})
    actor = clerk_of(db, org)
    workflow_id = workflow_of(db, "SELECT workflow_id FROM card_batches WHERE id = %s", batch["id"])
    for bad in BAD:
        request_id = stage(
            db,
            "INSERT INTO card_batch_requests (batch_id, kind, member_nos, created_by, created_at)"
            " VALUES (%s, 'remove', %s::json, %s, now()) RETURNING id",
            batch["id"], _json_array(bad), actor.user_id,
        )  # fmt: skip
        edit = EditMembers(actor, request_id)
        refused = await refused_at_once(temporal_client, workflow_id, CardBatchWorkflow.edit_members, edit, EditResult)
        assert (refused.status_code, refused.code) == (422, DATA_INVALID), refused.body()
    view = await call(api, clerk, "POST", f"{url}/members/remove", 200, json={"member_nos": [nos[0]]})
    assert (view["status"], view["members"]) == ("pending", 2)
    history = (await call(api, clerk, "GET", url, 200))["history"]
    assert len(history) == 2  # the two edits that were done; the refused ones left no line
    # A step the workflow has made is recorded even when its reason holds what cannot be stored.
    cancel = Act(actor, "不再办理" + "".join(BAD))
    await run_update(temporal_client, workflow_id, CardBatchWorkflow.cancel, cancel, rpc_seconds=30, result_type=None)
    view = await call(api, clerk, "GET", url, 200)
    assert view["status"] == "cancelled" and view["history"][-1]["summary"] == "不再办理\ufffda\ufffdb"


def _json_array(item: str) -> str:
    """A JSON array of ``item`` as json.dumps writes it (\\ud800 and \\u0000 as escapes)."""
    return json.dumps([item])


async def test_a_roster_confirmation_with_bad_member_numbers_is_refused_and_the_next_works(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, temporal_client: Client, tmp_path: Path
) -> None:
    year = 2081
    await put_year(api, tokens, year, config_around(TODAY, shares=("50", "50", "0")))
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 3, seed=8802)
    with db.connect() as conn:  # one member awaits confirmation (not insured yet)
        conn.execute("UPDATE members SET social_insured = false WHERE member_no = %s", (nos[0],))
        conn.commit()
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    await until(api, clerk, url, "draft")
    actor = clerk_of(db, org)
    workflow_id = workflow_of(db, "SELECT workflow_id FROM enrollments WHERE id = %s", e["id"])
    for bad in BAD:
        sel = Selection(actor, _selection(db, "confirm", actor, bad))
        refused = await refused_at_once(temporal_client, workflow_id, EnrollmentWorkflow.confirm, sel, RosterEditResult)
        assert (refused.status_code, refused.code) == (422, DATA_INVALID), refused.body()
    done = await call(api, clerk, "POST", f"{url}/confirm", 200, json={"member_nos": [nos[0]]})
    assert done["enrolled"] == 3
    cancel = Act(actor, "重复开立" + "".join(BAD))
    await run_update(temporal_client, workflow_id, EnrollmentWorkflow.cancel, cancel, rpc_seconds=30, result_type=None)
    view = await until(api, clerk, url, "cancelled")
    assert view["history"][-1]["summary"] == "重复开立\ufffda\ufffdb"


def _selection(db: Database, purpose: str, actor: ActorRef, item: str) -> int:
    return stage(
        db,
        "INSERT INTO member_selections (purpose, items, everything, created_by, created_at)"
        " VALUES (%s, %s::json, false, %s, now()) RETURNING id",
        purpose, _json_array(item), actor.user_id,
    )  # fmt: skip


async def test_a_registration_with_bad_card_numbers_is_refused_and_the_next_works(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, temporal_client: Client, tmp_path: Path
) -> None:
    year = 2082
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 2, seed=8803)
    with db.connect() as conn:
        cards = [r[0] for r in conn.execute("SELECT card_no FROM cards WHERE member_no = ANY(%s) ORDER BY 1", (nos,))]
    window = {"start": (TODAY - timedelta(days=1)).isoformat(), "end": (TODAY + timedelta(days=1)).isoformat()}
    await put_year(api, tokens, year, {**config_around(TODAY), "registration_window": window})
    started = await call(api, tokens[ADMIN], "POST", f"/programme-years/{year}/registration/open", 202)
    await temporal_client.get_workflow_handle(started["workflow_id"]).result()
    url = f"/orgs/{org}/registrations/{year}"
    await until(api, clerk, url, "open")
    actor = clerk_of(db, org)
    workflow_id = workflow_of(
        db,
        "SELECT r.workflow_id FROM registrations r JOIN organisations o ON o.id = r.org_id"
        " WHERE o.code = %s AND r.year = %s",
        org, year,
    )  # fmt: skip
    for bad in BAD:
        sel = Selection(actor, _selection(db, "register", actor, bad))
        refused = await refused_at_once(
            temporal_client, workflow_id, RegistrationWorkflow.register, sel, RegisterResult
        )
        assert (refused.status_code, refused.code) == (422, DATA_INVALID), refused.body()
    done = await call(api, clerk, "POST", url, 200, json={"card_nos": [cards[0]]})
    assert (done["registered_now"], done["registration"]["registered"]) == (1, 1)
