"""Decisions sent many times at once (a double click, a client that retries, two reviewers at the
same moment): each names the step it decides, the view's ``step``, and exactly one of them has an
effect; the others answer 409 ``stale_decision``. An admin repairs workflows and decides nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from bank_sim.app import Bank, BankConfig
from core.db import Database
from tests.api.helpers import call, until
from tests.api.test_card_batches import member_nos, members, reset, submitted_batch
from tests.api.test_claims import ILLNESS, TODAY, claimant, programme_year
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, CENTER, DISTRICT, SECONDARY, carded_members, config_around, fresh_union
from tests.enrollment_setup import put_year as put_programme_year
from tests.workflows.conftest import user
from tests.workflows.recording import record
from workflows.claim import ClaimDecision, ClaimWorkflow
from workflows.common import ActorRef

__all__ = ["members", "programme_year"]  # fixtures used here, defined with the tests they came from

AT_ONCE = 8
PDF = b"%PDF-1.4 voucher"


async def at_once(api: httpx.AsyncClient, token: str, url: str, body: dict[str, Any], n: int = AT_ONCE) -> list[Any]:
    """``n`` identical requests sent together."""
    return list(await asyncio.gather(*(api.post(url, json=body, headers=auth(token)) for _ in range(n))))


def one_effect(answers: list[httpx.Response]) -> dict[str, Any]:
    """Exactly one answer 200; every other one says the step was decided already. The one view."""
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * (len(answers) - 1), [r.text for r in answers]
    refused = [r.json()["error"] for r in answers if r.status_code == 409]
    assert {e["code"] for e in refused} == {"stale_decision"}, refused
    assert all(e["message"] == "该事项已被处理，请刷新后重试" for e in refused)
    view: dict[str, Any] = next(r.json() for r in answers if r.status_code == 200)
    # the step then (still the one decided while its decision was under way; None: the workflow had ended)
    assert all(e["details"]["step"] is None or 0 <= e["details"]["step"] <= view["step"] for e in refused)
    return view


def audited(db: Database, entity: str, entity_id: int, action: str) -> int:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_events WHERE entity_type = %s AND entity_id = %s AND action = %s",
            (entity, str(entity_id), action),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_four_approvals_at_once_by_an_admin_decide_nothing(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str
) -> None:
    """Found: four identical grassroots approvals sent at once by an admin approved the grassroots,
    district and center levels and paid 10,000.00."""
    bank.config = BankConfig(delay_seconds=0.1)
    _, clerk, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=7111)
    body = {**ILLNESS, "event_date": (TODAY - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    assert "approve" not in (await call(api, tokens[ADMIN], "GET", url, 200))["actions"]
    answers = await at_once(api, tokens[ADMIN], f"{url}/review", {"decision": "approve", "step": claim["step"]}, 4)
    assert [r.status_code for r in answers] == [403] * 4, [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers} == {"role_not_allowed"}
    await asyncio.sleep(1)  # nothing is under way that could still pay
    after = await call(api, clerk, "GET", url, 200)
    assert (after["status"], after["awaiting"], after["step"]) == ("under_review", "grassroots_reviewer", claim["step"])
    assert audited(db, "claim", claim["id"], "claim.approve_level") == 0
    assert not [p for p in bank.payouts if p.startswith(f"claim-{claim['id']}-")]


async def test_a_claim_decided_eight_times_at_once_at_every_level_is_paid_once(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str,
    temporal_client: Client,
) -> None:  # fmt: skip
    bank.config = BankConfig(delay_seconds=0.1)
    org, clerk, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=7201)
    second_clerk = await call(api, tokens[ADMIN], "POST", "/users", 201,
                              json={"name": "第二经办人", "org_code": org, "role": "clerk"})  # fmt: skip
    body = {**ILLNESS, "event_date": (TODAY - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    levels = (
        (second_clerk["token"], "secondary_reviewer"),  # a clerk of the union who did not apply
        (tokens[SECONDARY], "district_reviewer"),
        (tokens[DISTRICT], "center_reviewer"),
        (tokens[CENTER], None),
    )
    for token, awaiting in levels:
        step = (await call(api, token, "GET", url, 200))["step"]
        view = one_effect(await at_once(api, token, f"{url}/review", {"decision": "approve", "step": step}))
        assert view["step"] == step + 1 and view["awaiting"] == awaiting
    paid = await until(api, clerk, url, "paid")
    assert audited(db, "claim", claim["id"], "claim.approve_level") == 3
    assert audited(db, "claim", claim["id"], "claim.approve") == 1
    assert [p for p in bank.payouts if p.startswith(f"claim-{claim['id']}-")] == [f"claim-{claim['id']}-0"]
    assert paid["amount"] == "10000.00"
    await record(temporal_client, f"claim-{claim['id']}", "ClaimWorkflow--decided-at-once-with-steps")


async def test_return_resubmission_and_rejection_sent_eight_times_at_once(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str
) -> None:
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=7311)
    body = {"kind": "accidental_disability", "event_date": (TODAY - timedelta(days=5)).isoformat(),
            "description": "工作中意外受伤致残"}  # fmt: skip
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url, claim_id = f"/claims/{claim['id']}", claim["id"]
    ask = {"decision": "return", "reason": "缺伤残鉴定", "step": claim["step"]}
    returned = one_effect(await at_once(api, grassroots, f"{url}/review", ask))
    assert returned["status"] == "returned"
    stale = await call(api, grassroots, "POST", f"{url}/review", 409,
                       json={"decision": "approve", "step": claim["step"]})  # the view before the return  # fmt: skip
    assert stale["error"]["code"] == "stale_decision"
    back = one_effect(await at_once(api, clerk, f"{url}/resubmit", {"step": returned["step"]}))
    assert back["status"] == "under_review" and back["awaiting"] == "grassroots_reviewer"
    step = (await call(api, grassroots, "GET", url, 200))["step"]
    rejected = one_effect(await at_once(api, grassroots, f"{url}/review",
                                        {"decision": "reject", "reason": "非意外", "step": step}))  # fmt: skip
    assert rejected["status"] == "rejected"
    counts = [audited(db, "claim", claim_id, a) for a in ("claim.return", "claim.resubmit", "claim.reject")]
    assert counts == [1, 1, 1]


async def test_no_account_decides_two_levels_of_a_claim(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str,
    temporal_client: Client,
) -> None:  # fmt: skip
    """Were an account to reach the next level (moved to the secondary union, say), the workflow
    itself refuses it there: it keeps who decided which level."""
    org, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=7411)
    body = {**ILLNESS, "event_date": (TODAY - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    approved = await call(api, grassroots, "POST", f"/claims/{claim['id']}/review", 200,
                          json={"decision": "approve", "step": claim["step"]})  # fmt: skip
    me = user(db, "reviewer", org)
    secondary = user(db, "reviewer", "101-S01")
    moved = ActorRef(me.user_id, me.name, "reviewer", secondary.org_code, secondary.org_path)
    handle = temporal_client.get_workflow_handle(f"claim-{claim['id']}")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ClaimWorkflow.review, ClaimDecision(moved, "approve", "", approved["step"]))
    assert isinstance(refused.value.cause, ApplicationError) and refused.value.cause.type == "already_decided"
    view = await call(api, clerk, "GET", f"/claims/{claim['id']}", 200)
    assert (view["awaiting"], view["step"]) == ("secondary_reviewer", approved["step"])


async def enrollment_in_review(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp: Path, parent: str, year: int, seed: int
) -> tuple[str, str]:
    """A new union's enrollment submitted by its clerk eight times at once: (its url, the clerk's token)."""
    org, clerk = await fresh_union(api, tokens, parent)
    await carded_members(api, db, clerk, org, tmp, 2, seed=seed)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    e = await until(api, clerk, url, "draft")
    submitted = one_effect(await at_once(api, clerk, f"{url}/submit", {"protection_type": "A", "step": e["step"]}))
    assert submitted["status"] in ("secondary_review", "district_review")
    assert audited(db, "enrollment", e["id"], "enrollment.submit") == 1
    return url, clerk


async def decide(api: httpx.AsyncClient, token: str, url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The decision ``body`` on what ``token``'s user reads at ``url`` now, sent eight times at once."""
    step = (await call(api, token, "GET", url, 200))["step"]
    return one_effect(await at_once(api, token, f"{url}{path}", {**body, "step": step}))


async def test_enrollment_and_filing_decisions_sent_eight_times_at_once(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, temporal_client: Client
) -> None:
    year = 2074
    await put_programme_year(api, tokens, year, config_around(TODAY))
    # Under the secondary union: returned there, submitted again by an admin, approved at both levels.
    url, clerk = await enrollment_in_review(api, tokens, db, tmp_path, "101-S01", year, seed=7501)
    enrollment_id = int(url.rsplit("/", 1)[1])
    e = await call(api, tokens[ADMIN], "GET", url, 200)
    assert "approve" not in e["actions"]
    refused = await call(api, tokens[ADMIN], "POST", f"{url}/review", 403, json={"approve": True, "step": e["step"]})
    assert refused["error"]["code"] == "role_not_allowed"
    e = await decide(api, tokens[SECONDARY], url, "/review", {"approve": False, "reason": "人数有误"})
    assert e["status"] == "returned"
    e = await decide(api, tokens[ADMIN], url, "/submit", {"protection_type": "A"})  # an admin acts as the clerk
    assert e["status"] == "secondary_review"
    e = await decide(api, tokens[SECONDARY], url, "/review", {"approve": True})
    assert e["status"] == "district_review"
    e = await decide(api, tokens[DISTRICT], url, "/review", {"approve": True})
    assert e["status"] == "approved" and e["grassroots_share"] == "10.40"
    e = await decide(api, tokens[ADMIN], url, "/payment", {"amount": "10.40", "reference": "R1"})
    assert e["status"] == "paid"
    counts = [audited(db, "enrollment", enrollment_id, a) for a in
              ("enrollment.return", "enrollment.submit", "enrollment.secondary_approve", "enrollment.district_approve",
               "enrollment.pay")]  # fmt: skip
    assert counts == [1, 2, 1, 1, 1]
    # Directly under the district: returned, submitted again by its clerk, approved, paid.
    url2, clerk2 = await enrollment_in_review(api, tokens, db, tmp_path, "101", year, seed=7502)
    assert (await decide(api, tokens[DISTRICT], url2, "/review", {"approve": False, "reason": "缺材料"}))["status"] == (
        "returned"
    )
    assert (await decide(api, clerk2, url2, "/submit", {"protection_type": "A"}))["status"] == "district_review"
    assert (await decide(api, tokens[DISTRICT], url2, "/review", {"approve": True}))["status"] == "approved"
    paid = await decide(api, tokens[DISTRICT], url2, "/payment", {"amount": "10.40", "reference": "R2"})
    assert paid["status"] == "paid"
    # The district files both; the center rejects its voucher, then approves the next one.
    district = f"/districts/101/enrollments/{year}"
    await call(api, tokens[DISTRICT], "POST", f"{district}/submit", 200)
    await call(api, tokens[DISTRICT], "POST", f"{district}/voucher", 200,
               files={"file": ("voucher.pdf", PDF, "application/pdf")})  # fmt: skip
    filing = await call(api, tokens[ADMIN], "GET", district, 200)
    assert "decide_voucher" not in filing["actions"]
    refused = await call(api, tokens[ADMIN], "POST", f"{district}/voucher/decision", 403,
                         json={"approve": True, "step": filing["step"]})  # fmt: skip
    assert refused["error"]["code"] == "role_not_allowed"
    rejected = await decide(api, tokens[CENTER], district, "/voucher/decision", {"approve": False, "reason": "模糊"})
    assert rejected["status"] == "voucher_rejected"
    await call(api, tokens[DISTRICT], "POST", f"{district}/voucher", 200,
               files={"file": ("voucher2.pdf", PDF, "application/pdf")})  # fmt: skip
    assert (await decide(api, tokens[CENTER], district, "/voucher/decision", {"approve": True}))["status"] == "approved"
    for u, c in ((url, clerk), (url2, clerk2)):
        await until(api, c, u, "completed")
    with db.connect() as conn:
        row = conn.execute("SELECT id FROM district_filings WHERE district_code = '101' AND year = %s", (year,))
        filing_id = row.fetchone()[0]  # type: ignore[index]
    decided = [audited(db, "district_filing", filing_id, a) for a in ("district_filing.reject_voucher",
               "district_filing.approve_voucher")]  # fmt: skip
    assert decided == [1, 1]
    for workflow_id, name in ((f"enrollment-{e['org_code']}-{year}", "EnrollmentWorkflow"),
                              (f"district-enrollment-101-{year}", "DistrictFilingWorkflow")):  # fmt: skip
        await record(temporal_client, workflow_id, f"{name}--decided-at-once-with-steps")


async def test_revocation_decisions_sent_eight_times_at_once(
    api: httpx.AsyncClient, live_api: str, bank: Bank, tokens: dict[str, str], db: Database, members: list[list[str]],
    temporal_client: Client,
) -> None:  # fmt: skip
    reset(bank, hold=True)  # the bank does not answer while the district decides
    token = tokens["clerk@101-S01-0001"]
    nos = await member_nos(db, members)
    batch = await submitted_batch(api, token, nos)
    url = f"/card-batches/{batch['id']}"
    request = {"applicant_name": "王经办", "applicant_phone": "13912345678", "reason": "网点选错"}
    city = await call(api, tokens[ADMIN], "POST", "/users", 201,
                      json={"name": "市总审核员", "org_code": "SH", "role": "reviewer"})  # fmt: skip
    for reviewer, approve, status in ((tokens[DISTRICT], False, "submitted"), (city["token"], True, "revoked")):
        view = await call(api, token, "POST", f"{url}/revocation", 200, json=request)
        assert view["status"] == "revocation_requested" and view["step"] == batch["step"] + 1
        admin = await call(api, tokens[ADMIN], "POST", f"{url}/revocation/decision", 403,
                           json={"approve": approve, "reason": "同意", "step": view["step"]})  # fmt: skip
        assert admin["error"]["code"] == "role_not_allowed"
        decided = await decide(api, reviewer, url, "/revocation/decision", {"approve": approve, "reason": "决定"})
        assert decided["status"] == status and decided["step"] == view["step"] + 1
        batch = decided
    assert audited(db, "card_batch", batch["id"], "card_batch.reject_revocation") == 1
    assert audited(db, "card_batch", batch["id"], "card_batch.approve_revocation") == 1
    with db.connect() as conn:
        statuses = {s for (s,) in conn.execute("SELECT card_status FROM members WHERE member_no = ANY(%s)", (nos,))}
    assert statuses == {"none"}  # released once, free for another batch
    await record(temporal_client, f"card-batch-{batch['id']}", "CardBatchWorkflow--revocations-with-steps")


async def test_other_actions_sent_eight_times_at_once_fail_alone(
    api: httpx.AsyncClient, live_api: str, bank: Bank, tokens: dict[str, str], db: Database, members: list[list[str]],
    tmp_path: Path,
) -> None:  # fmt: skip
    """An action that passed its validator together with one that moved first is refused with
    409 not_allowed_now, and the workflow goes on (before: its handler failed the workflow task,
    retried forever, and every later message waited for it)."""
    reset(bank, hold=True)
    token = tokens["clerk@101-S01-0001"]
    nos = await member_nos(db, members)
    batch = await call(api, token, "POST", "/orgs/101-S01-0001/card-batches", 201,
                       json={"channel": "normal", "bank_branch": "工行人民广场支行"})  # fmt: skip
    url = f"/card-batches/{batch['id']}"
    await call(api, token, "POST", f"{url}/members", 200, json={"member_nos": nos})
    await call(api, token, "POST", f"{url}/validate", 200)
    for path, status in (("/submit", "submitted"), ("/revocation", "revocation_requested")):
        body = {"applicant_name": "王经办", "applicant_phone": "13912345678", "reason": "网点选错"}
        answers = await at_once(api, token, f"{url}{path}", body if path == "/revocation" else {})
        assert sorted(r.status_code for r in answers) == [200] + [409] * (AT_ONCE - 1), [r.text for r in answers]
        assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {"not_allowed_now"}
        assert (await call(api, token, "GET", url, 200))["status"] == status
    assert audited(db, "card_batch", batch["id"], "card_batch.submit") == 1
    year = 2072
    await put_programme_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 1, seed=7601)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    answers = await at_once(api, clerk, f"/enrollments/{e['id']}/cancel", {"reason": "重复录入"})
    assert sorted(r.status_code for r in answers) == [200] + [409] * (AT_ONCE - 1), [r.text for r in answers]
    assert audited(db, "enrollment", e["id"], "enrollment.cancel") == 1
