"""Benefit claims over HTTP: eligibility with reasons, review level by level (grassroots,
secondary, district, Mutual Aid Center), return and resubmission, payout through the bank
simulator's signed callbacks, exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bank_sim.app import Bank, BankConfig
from cli.dev import find_binary
from core.db import Database
from core.settings import Settings
from rules.calendar import today
from tests.api.helpers import call, decide, until
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, CENTER, DISTRICT, SECONDARY, carded_members, config_around, fresh_union
from tests.enrollment_setup import put_year as put_programme_year

TODAY = today("Asia/Shanghai")
YEAR = 2061
PNG = b"\x89PNG\r\n\x1a\n a scanned assessment"


def cover(db: Database, member_no: str, card_no: str, *, registered: bool = True, enrolled: bool = True) -> None:
    """The member's card, issued long ago, registered in last year's and this year's windows and a
    completed enrollment covering today (as the registration and enrollment workflows leave them)."""
    with db.connect() as conn:
        conn.execute("UPDATE cards SET issued_at = now() - interval '800 days' WHERE card_no = %s", (card_no,))
        if registered:
            for year in (TODAY.year - 1, TODAY.year):  # valid today, whichever side of this year's window
                conn.execute(
                    "INSERT INTO card_registrations (card_no, year, member_no, registered_at) "
                    "VALUES (%s, %s, %s, now())",
                    (card_no, year, member_no),
                )
            conn.execute("UPDATE cards SET status = 'registered' WHERE card_no = %s", (card_no,))
            conn.execute("UPDATE members SET card_status = 'registered' WHERE member_no = %s", (member_no,))
        if enrolled:
            row = conn.execute(
                """INSERT INTO enrollments (org_id, year, kind, status, district_code, members_total, enrolled,
                       awaiting_confirmation, no_card, retired, deceased, removed, total_fen, city_fen, district_fen,
                       grassroots_fen, coverage_start, coverage_end, workflow_id, created_by, created_at, updated_at)
                   SELECT m.org_id, %s, 'instant', 'completed', m.district_code, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                          %s, %s, 'fixture', 1, now(), now() FROM members m WHERE m.member_no = %s RETURNING id""",
                (YEAR, TODAY - timedelta(days=60), TODAY + timedelta(days=300), member_no),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO enrollment_members (enrollment_id, member_no, category, confirmed) "
                "VALUES (%s, %s, 'enrolled', false)",
                (row[0], member_no),
            )


async def claimant(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp: Path, bank: Bank, seed: int, **cover_kw: bool
) -> tuple[str, str, str, str]:
    """A union under the secondary union 101-S01 with its clerk and a second reviewer-clerk, and one
    covered member whose card the bank knows: (union, clerk token, grassroots reviewer token, member)."""
    org, clerk = await fresh_union(api, tokens, "101-S01")
    second = await call(api, tokens[ADMIN], "POST", "/users", 201,
                        json={"name": "单位审核人", "org_code": org, "role": "reviewer"})  # fmt: skip
    (member_no,) = await carded_members(api, db, clerk, org, tmp, 1, seed=seed)
    with db.connect() as conn:
        card = conn.execute("SELECT card_no FROM members WHERE member_no = %s", (member_no,)).fetchone()
    assert card is not None
    bank.cards[card[0]] = (member_no, "")
    cover(db, member_no, card[0], **cover_kw)
    return org, clerk, str(second["token"]), member_no


ILLNESS = {
    "kind": "critical_illness",
    "illness": "malignant_tumour",
    "hospitalised": True,
    "description": "首次确诊恶性肿瘤并住院治疗",
}


@pytest.fixture(autouse=True)
async def programme_year(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    config = config_around(
        TODAY, split=(-95, -90), submission=(-90, -80), deadline=-79, district=(-79, -70), coverage=(-60, 300)
    )
    await put_programme_year(api, tokens, YEAR, config)


async def test_a_claim_through_every_level_is_paid_once(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str,
    settings: Settings,
) -> None:  # fmt: skip
    bank.config = BankConfig(delay_seconds=0.1, duplicate_callbacks=True)
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6101)
    body = {**ILLNESS, "event_date": (TODAY - timedelta(days=10)).isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    assert claim["status"] == "under_review"  # the answer waits for the eligibility check
    assert claim["amount"] == "10000.00" and claim["reasons"] == [] and claim["awaiting"] == "grassroots_reviewer"
    pdf = b"%PDF-1.4 diagnosis"
    ev = await call(api, clerk, "POST", f"{url}/evidence", 201, files={"file": ("诊断.pdf", pdf, "application/pdf")})
    assert (await api.get(f"{url}/evidence/{ev['id']}", headers=auth(tokens[CENTER]))).content == pdf
    own = await decide(api, clerk, url, "/review", 403, decision="approve")
    assert own["error"]["code"] == "own_application"
    early = await decide(api, tokens[DISTRICT], url, "/review", 403, decision="approve")
    assert early["error"]["code"] == "wrong_level"
    task = next(t for t in await call(api, grassroots, "GET", "/tasks", 200) if t["entity_id"] == claim["id"])
    assert task["status_label"] == "审核中" and "的重大疾病给付申请（10,000.00 元）" in task["summary"], task
    for token, awaiting in ((grassroots, "secondary_reviewer"), (tokens[SECONDARY], "district_reviewer"),
                            (tokens[DISTRICT], "center_reviewer")):  # fmt: skip
        claim = await decide(api, token, url, "/review", 200, decision="approve")
        assert claim["status"] == "under_review" and claim["awaiting"] == awaiting
        # The answer does not wait for the workflow's own write: the API wrote the step, so the
        # reviewer's next read and the history agree with it at once.
        read = await call(api, token, "GET", url, 200)
        assert read["awaiting"] == awaiting and read["history"][-1]["action"] == "claim.approve_level"
    assert any(t["kind"] == "claim_review" for t in await call(api, tokens[CENTER], "GET", "/tasks", 200))
    await decide(api, tokens[CENTER], url, "/review", 200, decision="approve")
    paid = await until(api, clerk, url, "paid")
    assert paid["amount"] == "10000.00"
    await asyncio.sleep(0.5)  # the duplicated callback arrives too
    assert [p for p in bank.payouts if p.startswith(f"claim-{claim['id']}-")] == [f"claim-{claim['id']}-0"]
    history = [h["action"] for h in paid["history"]]
    assert history.count("claim.paid") == 1 and "claim.pay" in history
    # Each step once and in the order the workflow made it, though the reviewers' steps were
    # written by the API and again by the workflow.
    steps = [a for a in history if a not in ("claim.applied", "claim.evidence_added")]
    assert steps == ["claim.eligible", *["claim.approve_level"] * 3, "claim.approve", "claim.pay", "claim.paid"]
    rejected = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    assert rejected["status"] == "rejected" and any("只给付一次" in r for r in rejected["reasons"])
    listed = await call(api, clerk, "GET", f"/members/{member_no}/claims", 200)
    assert [c["status"] for c in listed] == ["paid", "rejected"]


async def test_an_ineligible_claim_names_every_reason(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank
) -> None:
    _, clerk, _, member_no = await claimant(
        api, tokens, db, tmp_path, bank, seed=6201, registered=False, enrolled=False
    )
    body = {**ILLNESS, "hospitalised": False, "event_date": (TODAY - timedelta(days=3)).isoformat()}
    rejected = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    assert rejected["status"] == "rejected" and rejected["actions"] == []
    reasons = "；".join(rejected["reasons"])
    assert "未注册" in reasons and "保障期" in reasons and "住院" in reasons
    future = {**ILLNESS, "event_date": (TODAY + timedelta(days=1)).isoformat()}
    assert (await call(api, clerk, "POST", f"/members/{member_no}/claims", 422, json=future))["error"]["code"]
    death = {"kind": "accidental_death", "description": "意外身故", "event_date": TODAY.isoformat()}
    assert (await call(api, clerk, "POST", f"/members/{member_no}/claims", 422, json=death))["error"]["code"]
    other = await call(api, tokens["clerk@101-0001"], "POST", f"/members/{member_no}/claims", 403, json=body)
    assert other["error"]["code"] == "outside_scope"


async def test_a_returned_claim_is_amended_and_resubmitted(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank
) -> None:
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6301)
    body = {"kind": "accidental_disability", "description": "工伤致全残", "event_date": TODAY.isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    assert claim["status"] == "under_review"
    no_reason = await decide(api, grassroots, url, "/review", 422, decision="return")
    assert no_reason["error"]["code"] == "reason_required"
    returned = await decide(api, grassroots, url, "/review", 200, decision="return", reason="缺伤残鉴定")
    assert returned["status"] == "returned" and returned["return_reason"] == "缺伤残鉴定"
    assert returned["actions"] == []  # the reviewer's view: nothing for them to do now
    assert "resubmit" in (await call(api, clerk, "GET", url, 200))["actions"]
    assert any(t["kind"] == "claim_returned" for t in await call(api, clerk, "GET", "/tasks", 200))
    await call(api, clerk, "PATCH", url, 200, json={"description": "工伤致全残，附伤残鉴定书"})
    await call(api, clerk, "POST", f"{url}/evidence", 201, files={"file": ("鉴定.png", PNG, "image/png")})
    back = await decide(api, clerk, url, "/resubmit")  # answers after eligibility is checked again
    assert (
        back["status"] == "under_review" and back["awaiting"] == "grassroots_reviewer" and back["amount"] == "30000.00"
    )
    rejected = await decide(api, grassroots, url, "/review", 200, decision="reject", reason="非意外")
    assert rejected["status"] == "rejected"
    late = await call(api, clerk, "POST", f"{url}/evidence", 409, files={"file": ("x.pdf", b"%PDF", "application/pdf")})
    assert late["error"]["code"] == "not_allowed_now"


async def test_unknown_claims_and_an_unreachable_temporal(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, settings: Settings
) -> None:
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6601)
    missing = await call(api, grassroots, "POST", "/claims/987654/review", 404, json={"decision": "approve", "step": 1})
    assert missing["error"]["code"] == "claim_not_found"
    # Temporal out of reach: the clerk is told to try again and no half-made claim is kept.
    gone = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), dev_server_log_level="error"
    )
    dead = await Client.connect(
        gone.client.service_client.config.target_host,
        retry_config=RetryConfig(max_retries=1, initial_interval_millis=50),
    )
    await gone.shutdown()
    quick = settings.model_copy(update={"update_timeout_seconds": 1.0})
    app = create_app(quick, db=db, temporal=dead)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60) as down:
        body = {"kind": "accidental_disability", "description": "工伤致全残", "event_date": TODAY.isoformat()}
        refused = await call(down, clerk, "POST", f"/members/{member_no}/claims", 503, json=body)
    assert refused["error"]["code"] == "temporal_unavailable"
    assert await call(api, clerk, "GET", f"/members/{member_no}/claims", 200) == []


async def test_a_payout_to_a_lost_card_is_paid_to_the_replacement_as_soon_as_it_comes(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str
) -> None:
    bank.config = BankConfig(delay_seconds=0.2)
    _, clerk, grassroots, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6701)
    with db.connect() as conn:
        lost = conn.execute("SELECT card_no FROM members WHERE member_no = %s", (member_no,)).fetchone()[0]  # type: ignore[index]
    body = {"kind": "accidental_disability", "description": "意外致全残", "event_date": TODAY.isoformat()}
    claim = await call(api, clerk, "POST", f"/members/{member_no}/claims", 201, json=body)
    url = f"/claims/{claim['id']}"
    await call(api, clerk, "POST", f"/cards/{lost}/loss-report", 201, json={})
    for token in (grassroots, tokens[SECONDARY], tokens[DISTRICT], tokens[CENTER]):
        await decide(api, token, url, "/review", 200, decision="approve")
    failed = await until(api, clerk, url, "payout_failed")
    assert failed["actions"] == []
    await call(api, clerk, "POST", f"/cards/{lost}/replacement", 200, json={"reason": "会员申请补卡"})
    # The loss workflow tells the claim about the new card at once: no daily check is awaited here.
    paid = await until(api, clerk, url, "paid")
    with db.connect() as conn:
        new = conn.execute("SELECT card_no FROM members WHERE member_no = %s", (member_no,)).fetchone()[0]  # type: ignore[index]
    assert new != lost
    mine = {k: v.card_no for k, v in bank.payouts.items() if k.startswith(f"claim-{claim['id']}-")}
    assert mine == {f"claim-{claim['id']}-1": new}  # nothing was ever sent to the card reported lost
    actions = [h["action"] for h in paid["history"]]
    assert actions.count("claim.payout_failed") == 1 and actions.count("claim.pay") == 1
    assert actions.count("claim.paid") == 1


async def test_evidence_is_what_its_bytes_say_and_is_served_as_an_attachment(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank
) -> None:
    _, clerk, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6311)
    body = {"kind": "accidental_disability", "description": "工伤致残", "event_date": TODAY.isoformat()}
    url = f"/claims/{(await call(api, clerk, 'POST', f'/members/{member_no}/claims', 201, json=body))['id']}"
    html = b"<html><script>fetch('/admin')</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for name, content, declared, code in (
        ("x.pdf", html, "application/pdf", "evidence_content"),
        ("x.png", svg, "image/png", "evidence_content"),
        ("x.pdf", PNG, "application/pdf", "evidence_type_mismatch"),
        ("x.jpg", b"%PDF-1.7 a letter", "image/jpeg", "evidence_type_mismatch"),
    ):
        refused = await call(api, clerk, "POST", f"{url}/evidence", 422, files={"file": (name, content, declared)})
        assert refused["error"]["code"] == code and refused["error"]["message"]
    jpeg = b"\xff\xd8\xff\xe0 a photo"
    ev = await call(api, clerk, "POST", f"{url}/evidence", 201, files={"file": ("伤情.jpg", jpeg, "image/jpeg")})
    r = await api.get(f"{url}/evidence/{ev['id']}", headers=auth(tokens[CENTER]))
    assert r.content == jpeg and r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment")
    assert len((await call(api, clerk, "GET", url, 200))["evidence"]) == 1
