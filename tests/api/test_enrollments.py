"""Group insurance enrollment over HTTP: configuration, fee split window, roster, review level by
level, payment, the district's filing, the voucher and the center's decision, notice, statistics."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from bank_sim.app import Bank
from core.db import Database
from core.settings import Settings
from rules.calendar import today
from tests.api.helpers import call, decide, until
from tests.conftest import auth
from tests.enrollment_setup import (
    ADMIN,
    CENTER,
    DISTRICT,
    SECONDARY,
    carded_members,
    config_2014_rules,
    config_2024_round,
    config_around,
    fresh_union,
    put_year,
)

TODAY = today("Asia/Shanghai")  # the programme's day (the settings' time zone)


def shape(db: Database, nos: list[str]) -> None:
    """Member 0 without social insurance, 1 retired before coverage, 2 deceased, 3 without a card."""
    with db.connect() as conn:
        conn.execute("UPDATE members SET social_insured = false, social_insurance_start = NULL WHERE member_no = %s",
                     (nos[0],))  # fmt: skip
        conn.execute(
            "UPDATE members SET employment_status = 'retired', retirement_date = %s WHERE member_no = %s",
            (TODAY, nos[1]),
        )
        conn.execute("UPDATE members SET employment_status = 'deceased' WHERE member_no = %s", (nos[2],))
        conn.execute("UPDATE members SET card_status = 'none', card_no = NULL WHERE member_no = %s", (nos[3],))
        conn.commit()


async def test_programme_years_both_seed_rules_and_refusals(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    await put_year(api, tokens, 2024, config_2024_round())
    await put_year(api, tokens, 2014, config_2014_rules())
    got = await call(api, tokens[ADMIN], "GET", "/programme-years/2014", 200)
    half = next(t for t in got["config"]["protection_types"] if t["code"] == "H2")
    assert half["price"] == "12.00"  # every amount in JSON: two places, no separators
    assert half["coverage"] == {"start": "2015-01-01", "end": "2015-06-30"}
    assert got["config"]["types_by_card"] == [
        {"protection_type": "H1", "cards_until": "2014-06-30"}, {"protection_type": "H2", "cards_until": None}
    ]
    assert (await call(api, tokens[ADMIN], "GET", "/programme-years/2024", 200))["config"]["types_by_card"] is None
    for periods, why in (
        ([{"protection_type": "H1"}, {"protection_type": "H2", "cards_until": "2014-06-30"}], "只有最后一个时段"),
        ([{"protection_type": "H1", "cards_until": "2014-06-30"}, {"protection_type": "Z"}], "不在本年度保障类型中"),
        ([{"protection_type": "H1", "cards_until": "2014-06-30"}, {"protection_type": "H1"}], "只能对应一个时段"),
        ([], "至少需要一个时段"),
    ):
        refused = await call(api, tokens[ADMIN], "PUT", "/programme-years/2099", 422,
                             json={**config_2014_rules(), "types_by_card": periods})  # fmt: skip
        assert why in refused["error"]["message"], refused
    bad = config_2024_round()
    bad["coverage"] = {"start": "2024-12-31", "end": "2024-01-01"}
    r = await api.put("/programme-years/2099", json=bad, headers=auth(tokens[ADMIN]))
    assert r.status_code == 422 and "coverage" in r.text
    bad = config_2024_round()
    bad["protection_types"][0]["price"] = "-1"
    r = await api.put("/programme-years/2099", json=bad, headers=auth(tokens[ADMIN]))
    assert r.status_code == 422 and "price" in r.text
    bad = config_2024_round()
    bad["payment_deadline"] = "2024-02-01"  # after the district window closes
    r = await api.put("/programme-years/2099", json=bad, headers=auth(tokens[ADMIN]))
    assert r.status_code == 422
    r = await api.put("/programme-years/2099", json=config_2024_round(), headers=auth(tokens[DISTRICT]))
    assert r.status_code == 403
    assert (await api.get("/programme-years/2099", headers=auth(tokens[DISTRICT]))).status_code == 404


async def test_fee_split_only_inside_the_window(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    await put_year(api, tokens, 2040, config_around(TODAY))
    await put_year(api, tokens, 2041, config_around(TODAY, shares=("50", "50", "0"), split=(-10, -5)))
    split = {"city": "40", "district": "40", "grassroots": "20"}
    assert (await call(api, tokens[DISTRICT], "PUT", "/districts/101/fee-split/2040", 200, json=split))["city"]
    got = await call(api, tokens[SECONDARY], "GET", "/districts/101/fee-split/2040", 403)
    assert got["error"]["code"] == "outside_scope"
    refused = await call(api, tokens[DISTRICT], "PUT", "/districts/101/fee-split/2041", 409, json=split)
    assert refused["error"]["code"] == "outside_window" and refused["error"]["details"]["window"]
    bad = await call(api, tokens[DISTRICT], "PUT", "/districts/101/fee-split/2040", 422,
                     json={"city": "50", "district": "50", "grassroots": "10"})  # fmt: skip
    assert bad["error"]["code"]
    assert (await call(api, tokens[DISTRICT], "GET", "/districts/101/fee-split/2041", 200))["district"] in (
        "50",
        "50.00",
    )


async def test_enrollment_from_roster_to_completed(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2042
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101-S01")
    nos = await carded_members(api, db, clerk, org, tmp_path, 6, seed=4201)
    shape(db, nos)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    e = await until(api, clerk, url, "draft")
    e = await call(api, clerk, "GET", url, 200)
    assert (e["members_total"], e["enrolled"], e["awaiting_confirmation"]) == (6, 2, 1)
    assert (e["retired"], e["deceased"], e["no_card"]) == (1, 1, 1)
    awaiting = await call(api, clerk, "GET", f"{url}/members", 200, params={"category": "awaiting"})
    assert [m["member_no"] for m in awaiting] == [nos[0]]
    await call(api, clerk, "POST", f"{url}/confirm", 200, json={"member_nos": [nos[0]]})
    refused = await call(api, clerk, "POST", f"{url}/remove", 409, json={"member_nos": [nos[0]]})
    assert refused["error"]["code"] == "members_unavailable" and nos[0] in refused["error"]["message"]
    assert (await call(api, clerk, "GET", url, 200))["enrolled"] == 3
    bad = await decide(api, clerk, url, "/submit", 422, protection_type="Z")
    assert bad["error"]["code"] == "unknown_protection_type"
    e = await decide(api, clerk, url, "/submit", 200, protection_type="A")
    assert e["status"] == "secondary_review" and e["total"] == "78.00"
    assert e["status_label"] == "二级工会审核中"  # codes for programs, labels for people
    assert (e["city_share"], e["district_share"], e["grassroots_share"]) == ("39.00", "23.40", "15.60")
    html = await api.get(f"{url}/notice", headers=auth(clerk))
    assert html.status_code == 200 and "78.00" in html.text and "3 人" in html.text
    pdf = await api.get(f"{url}/notice", params={"format": "pdf"}, headers=auth(clerk))
    assert pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"

    wrong = await decide(api, tokens[DISTRICT], url, "/review", 403, approve=True)
    assert wrong["error"]["code"] == "wrong_level"
    assert (await decide(api, clerk, url, "/review", 403, approve=True))["error"]["code"]
    no_reason = await decide(api, tokens[SECONDARY], url, "/review", 422, approve=False)
    assert no_reason["error"]["code"] == "reason_required"
    e = await decide(api, tokens[SECONDARY], url, "/review", 200, approve=False, reason="人数有误")
    assert e["status"] == "returned" and e["return_reason"] == "人数有误"
    tasks = await call(api, clerk, "GET", "/tasks", 200)
    assert any(t["entity_id"] == e["id"] and t["kind"] == "enrollment_returned" for t in tasks)
    await decide(api, clerk, url, "/submit", 200, protection_type="A")
    assert any(t["entity_id"] == e["id"] for t in await call(api, tokens[SECONDARY], "GET", "/tasks", 200))
    e = await decide(api, tokens[SECONDARY], url, "/review", 200, approve=True)
    assert e["status"] == "district_review" and e["awaiting"] == "district_reviewer"
    assert any(t["entity_id"] == e["id"] for t in await call(api, tokens[DISTRICT], "GET", "/tasks", 200))
    e = await decide(api, tokens[DISTRICT], url, "/review", 200, approve=True)
    assert e["status"] == "approved" and "record_payment" in e["actions"]
    short = await decide(api, tokens[DISTRICT], url, "/payment", 422, amount="15", reference="x")
    assert short["error"]["code"] == "amount_mismatch"
    e = await decide(api, tokens[DISTRICT], url, "/payment", 200, amount="15.60", reference="R1")
    assert e["status"] == "paid" and e["paid"] == "15.60"
    await file_and_complete(api, tokens, year, url, clerk)


async def file_and_complete(api: httpx.AsyncClient, tokens: dict[str, str], year: int, url: str, clerk: str) -> None:
    district = f"/districts/101/enrollments/{year}"
    filing = await call(api, tokens[DISTRICT], "POST", f"{district}/submit", 200)
    assert filing["status"] == "submitted" and filing["enrollments"] == 1 and filing["members"] == 3
    await until(api, clerk, url, "filed")
    again = await call(api, tokens[DISTRICT], "POST", f"{district}/submit", 409)
    assert again["error"]["code"] == "not_allowed_now"
    assert again["error"]["message"] == "当前状态为“已提交职保中心”，不能提交", again
    bad = await call(api, tokens[DISTRICT], "POST", f"{district}/voucher", 422,
                     files={"file": ("v.txt", b"hello", "text/plain")})  # fmt: skip
    assert bad["error"]["code"] == "voucher_type"
    pdf = b"%PDF-1.4 voucher"
    up = await call(api, tokens[DISTRICT], "POST", f"{district}/voucher", 200,
                    files={"file": ("voucher.pdf", pdf, "application/pdf")})  # fmt: skip
    assert up["status"] == "voucher_uploaded"
    assert any(t["kind"] == "voucher_review" for t in await call(api, tokens[CENTER], "GET", "/tasks", 200))
    assert (await decide(api, tokens[DISTRICT], district, "/voucher/decision", 403, approve=True))["error"]["code"]
    await decide(api, tokens[CENTER], district, "/voucher/decision", 422, approve=False)
    rejected = await decide(api, tokens[CENTER], district, "/voucher/decision", 200, approve=False, reason="凭证模糊")
    assert rejected["status"] == "voucher_rejected" and rejected["reject_reason"] == "凭证模糊"
    await call(api, tokens[DISTRICT], "POST", f"{district}/voucher", 200,
               files={"file": ("voucher2.pdf", pdf, "application/pdf")})  # fmt: skip
    assert (await api.get(f"{district}/voucher", headers=auth(tokens[CENTER]))).content == pdf
    approved = await decide(api, tokens[CENTER], district, "/voucher/decision", 200, approve=True)
    assert approved["status"] == "approved"
    done = await until(api, clerk, url, "completed")
    assert (
        done["coverage_start"]
        == (await call(api, clerk, "GET", f"/programme-years/{year}", 200))["config"]["coverage"]["start"]
    )
    sheet = await api.get(f"{district}/statistics.xlsx", headers=auth(tokens[DISTRICT]))
    assert sheet.status_code == 200
    ws = load_workbook(io.BytesIO(sheet.content)).worksheets[0]
    values = [c for row in ws.iter_rows(values_only=True) for c in row]
    assert done["org_code"] in values and "参保完成" in values
    assert (await api.get(f"{district}/statistics.xlsx", headers=auth(clerk))).status_code == 403


async def test_confirming_after_submission_needs_submitting_again(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2043
    await put_year(api, tokens, year, config_around(TODAY, shares=("50", "50", "0")))
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 5, seed=4301)
    shape(db, nos)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    dup = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 409, json={"year": year})
    assert dup["error"]["code"] == "enrollment_exists"
    instant = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 409, json={"year": year, "kind": "instant"})
    assert instant["error"]["code"] == "use_regular_enrollment"
    await until(api, clerk, url, "draft")
    e = await decide(api, clerk, url, "/submit", 200, protection_type="B+")
    assert e["status"] == "district_review" and e["enrolled"] == 1  # no secondary union above it
    e = await call(api, clerk, "POST", f"{url}/confirm", 200, json={"all": True})
    assert e["status"] == "draft" and e["enrolled"] == 2
    assert any("重新提交" in h["summary"] for h in e["history"])
    e = await decide(api, clerk, url, "/submit", 200, protection_type="B+")
    assert e["status"] == "district_review" and e["total"] == "200.00"
    e = await decide(api, tokens[DISTRICT], url, "/review", 200, approve=True)
    assert e["status"] == "paid" and e["grassroots_share"] == "0.00"  # nothing to pay: paid at approval
    other = await decide(api, clerk, url, "/submit", 409, protection_type="A")
    assert other["error"]["code"] == "not_allowed_now"


async def test_submission_outside_the_window_is_refused(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2044
    await put_year(api, tokens, year, config_around(TODAY, submission=(2, 4), deadline=6))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=4401)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    await until(api, clerk, f"/enrollments/{e['id']}", "draft")
    refused = await decide(api, clerk, f"/enrollments/{e['id']}", "/submit", 409, protection_type="A")
    assert refused["error"]["code"] == "outside_window" and "至" in refused["error"]["message"]
    filing = await call(api, tokens[DISTRICT], "POST", f"/districts/101/enrollments/{year}/submit", 409)
    assert filing["error"]["code"] in ("outside_window", "nothing_to_file")
    missing = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 404, json={"year": 2098})
    assert missing["error"]["code"] == "programme_year_not_found"


@pytest.mark.parametrize("who", [SECONDARY, "clerk@101-0001"])
async def test_others_cannot_act_on_an_enrollment(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, who: str
) -> None:
    year = 2045
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=4501 + len(who))
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    body = {"protection_type": "A", "step": e["step"]}
    r = await api.post(f"/enrollments/{e['id']}/submit", json=body, headers=auth(tokens[who]))
    assert r.status_code == 403


async def test_instant_enrollment_after_the_window_covers_from_the_next_day(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2046
    await put_year(
        api, tokens, year,
        config_around(TODAY, split=(-6, -5), submission=(-5, -1), deadline=-1, district=(-1, 10), coverage=(-1, 300)),
    )  # fmt: skip
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=4601)
    late = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    refused = await decide(api, clerk, f"/enrollments/{late['id']}", "/submit", 409, protection_type="A")
    assert refused["error"]["code"] == "outside_window"
    await call(api, clerk, "POST", f"/enrollments/{late['id']}/cancel", 200, json={"reason": "改为即时参保"})
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year, "kind": "instant"})
    assert e["kind"] == "instant" and e["enrolled"] == 2
    url = f"/enrollments/{e['id']}"
    e = await decide(api, clerk, url, "/submit", 200, protection_type="A")
    e = await decide(api, tokens[DISTRICT], url, "/review", 200, approve=True)
    assert e["status"] == "approved" and e["grassroots_share"] == "10.40"  # 52.00 x 20%
    await decide(api, tokens[DISTRICT], url, "/payment", 200, amount="10.40", reference="即时")
    done = await until(api, clerk, url, "completed")
    assert done["coverage_start"] == (TODAY + timedelta(days=1)).isoformat()
    assert done["coverage_end"] == (TODAY + timedelta(days=300)).isoformat()


async def test_a_signed_bank_transfer_of_the_exact_amount_pays_the_enrollment(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path, bank: Bank, live_api: str,
    settings: Settings,
) -> None:  # fmt: skip
    year = 2047
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=4701)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    await decide(api, clerk, url, "/submit", 200, protection_type="A")
    workflow_id = f"enrollment-{org}-{year}"
    async with httpx.AsyncClient(base_url=settings.bank_url) as sim:
        early = {"reference": workflow_id, "amount": "10.40", "callback_url": settings.callback_url}
        assert (await sim.post("/transfers", json=early)).status_code == 202  # before approval: kept for later
        e = await decide(api, tokens[DISTRICT], url, "/review", 200, approve=True)
        paid = await until(api, clerk, url, "paid")
        assert paid["paid"] == "10.40" and paid["payment_ref"] == "银行转账"
        wrong = {"reference": workflow_id, "amount": "1.00", "callback_url": settings.callback_url}
        assert (await sim.post("/transfers", json=wrong)).status_code == 202
    with db.connect() as conn:
        stored = conn.execute("SELECT count(*) FROM bank_callbacks WHERE kind = 'transfer.received' "
                              "AND body->>'reference' = %s", (workflow_id,)).fetchone()  # fmt: skip
    assert stored is not None and stored[0] >= 1


async def test_paying_a_failed_enrollment_says_when_it_failed_and_that_instant_enrollment_is_the_way(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    year = 2047
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    with db.connect() as conn:  # as the workflow leaves it at the deadline: 00:30 in Shanghai is 16:30 UTC
        conn.execute(
            "UPDATE enrollments SET status = 'failed_unpaid', updated_at = '2047-12-25 16:30+00' WHERE id = %s",
            (e["id"],),
        )
        conn.commit()
    body = {"amount": "10.40", "reference": "迟到的转账", "step": e["step"]}
    r = await api.post(f"/enrollments/{e['id']}/payment", json=body, headers=auth(tokens[DISTRICT]))
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "enrollment_failed_unpaid" and error["details"]["failed_on"] == "2047-12-26"
    assert "2047-12-26" in error["message"] and "即时参保" in error["message"], error
