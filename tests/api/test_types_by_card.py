"""The 2014 rules (seed 004) as a rule: each member's protection type, coverage and fee follow
their card (issued and registered by the first period's last day, or later), so one enrollment
holds both kinds; the notice, the district's notice, the statistics and claims show each."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook

from core.db import Database
from rules.calendar import today
from tests.api.helpers import call, decide, until
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, CENTER, DISTRICT, carded_members, config_around, fresh_union, put_year

TODAY = today("Asia/Shanghai")
YEAR = 2063


def by_card_config() -> dict[str, Any]:
    """Windows around today; H1 (24 CNY, covered from yesterday) for cards whose day is two days ago
    or earlier, H2 (12 CNY, covered from day 30) for later ones."""
    config = config_around(TODAY, coverage=(-1, 385))
    config["protection_types"] = [
        {"code": "H1", "name": "上半年办理和注册：全年保障", "price": "24"},
        {"code": "H2", "name": "下半年办理：半年保障", "price": "12", "coverage": {
            "start": (TODAY + timedelta(days=30)).isoformat(), "end": (TODAY + timedelta(days=385)).isoformat()}},
    ]  # fmt: skip
    config["types_by_card"] = [
        {"protection_type": "H1", "cards_until": (TODAY - timedelta(days=2)).isoformat()},
        {"protection_type": "H2"},
    ]
    return config


def date_cards(db: Database, nos: list[str]) -> None:
    """Members 0-2 hold cards issued two days ago; member 2's card is registered for the year today
    (so its day is today: H2); members 3-4 hold cards issued today (H2)."""
    with db.connect() as conn:
        conn.execute("UPDATE cards SET issued_at = now() - interval '2 days' WHERE member_no = ANY(%s)", (nos[:3],))
        conn.execute(
            """INSERT INTO card_registrations (card_no, year, member_no, registered_at)
               SELECT card_no, %s, member_no, now() FROM members WHERE member_no = %s""",
            (YEAR, nos[2]),
        )
        conn.commit()


async def test_one_enrollment_holds_both_kinds_each_with_its_coverage_and_fee(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    await put_year(api, tokens, YEAR, by_card_config())
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 5, seed=6351)
    date_cards(db, nos)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": YEAR})
    url = f"/enrollments/{e['id']}"
    e = await until(api, clerk, url, "draft")
    assert e["types_by_card"] is True and e["enrolled"] == 5 and e["protection_types"] == []

    chosen = await decide(api, clerk, url, "/submit", 422, protection_type="H1")
    assert chosen["error"]["code"] == "protection_type_by_card" and "无需选择" in chosen["error"]["message"]
    e = await decide(api, clerk, url, "/submit", 200)
    assert e["status"] == "district_review" and e["protection_type"] is None
    lines = {line["protection_type"]: line for line in e["protection_types"]}
    assert (lines["H1"]["members"], lines["H1"]["total"]) == (2, "48.00")
    assert (lines["H2"]["members"], lines["H2"]["total"]) == (3, "36.00")
    assert lines["H2"]["coverage_start"] == (TODAY + timedelta(days=30)).isoformat()
    assert e["total"] == "84.00" and (e["city_share"], e["district_share"], e["grassroots_share"]) == (
        "42.00", "25.20", "16.80"
    )  # fmt: skip
    with db.connect() as conn:
        types = dict(conn.execute(
            "SELECT member_no, protection_type FROM enrollment_members WHERE enrollment_id = %s", (e["id"],)
        ).fetchall())  # fmt: skip
    assert types == {nos[0]: "H1", nos[1]: "H1", nos[2]: "H2", nos[3]: "H2", nos[4]: "H2"}

    html = (await api.get(f"{url}/notice", headers=auth(clerk))).text
    assert "H1 类会员共计 2 人" in html and "H2 类会员共计 3 人" in html and "84.00" in html
    h2_start = TODAY + timedelta(days=30)
    assert f"H2 类{h2_start.year}年{h2_start.month}月{h2_start.day}日起" in html  # each type's own coverage

    e = await decide(api, tokens[DISTRICT], url, "/review", 200, approve=True)
    e = await decide(api, tokens[DISTRICT], url, "/payment", 200, amount="16.80", reference="R2014")
    assert e["status"] == "paid"
    district = f"/districts/101/enrollments/{YEAR}"
    filing = await call(api, tokens[DISTRICT], "POST", f"{district}/submit", 200)
    assert filing["members"] == 5 and filing["total"] == "84.00"
    assert next(x for x in filing["lines"] if x["enrollment_id"] == e["id"])["members_by_type"] == {"H1": 2, "H2": 3}
    letter = (await api.get(f"{district}/notice", headers=auth(tokens[DISTRICT]))).text
    assert "参加H1类会员共计2人" in letter and "参加H2类会员共计3人" in letter and "84.00" in letter
    await until(api, clerk, url, "filed")
    await call(api, tokens[DISTRICT], "POST", f"{district}/voucher", 200,
               files={"file": ("voucher.pdf", b"%PDF-1.4 v", "application/pdf")})  # fmt: skip
    await decide(api, tokens[CENTER], district, "/voucher/decision", 200, approve=True)
    done = await until(api, clerk, url, "completed")
    assert done["coverage_start"] == (TODAY - timedelta(days=1)).isoformat()
    with db.connect() as conn:
        cover = {no: (start, end) for no, start, end in conn.execute(
            "SELECT member_no, coverage_start, coverage_end FROM enrollment_members WHERE enrollment_id = %s",
            (e["id"],),
        )}  # fmt: skip
    assert cover[nos[0]][0] == TODAY - timedelta(days=1) and cover[nos[2]][0] == h2_start

    sheet = await api.get(f"{district}/statistics.xlsx", headers=auth(tokens[DISTRICT]))
    book = load_workbook(io.BytesIO(sheet.content))
    union_row = next(r for r in book.worksheets[0].iter_rows(values_only=True) if r[0] == org)
    assert union_row[4] == "H1（2人）、H2（3人）" and union_row[5] == 5
    by_type = {r[0]: r[1:4] for r in book.worksheets[1].iter_rows(min_row=3, values_only=True)}
    assert by_type["H1"] == (1, 2, 48) and by_type["H2"] == (1, 3, 36) and by_type["合计"] == (1, 5, 84)

    # a claim for yesterday: covered for an H1 member, not yet for an H2 member (covered from day 30)
    event = {"kind": "accidental_disability", "event_date": (TODAY - timedelta(days=1)).isoformat(),
             "description": "意外伤害致全残"}  # fmt: skip
    covered = await call(api, clerk, "POST", f"/members/{nos[0]}/claims", 201, json=event)
    assert covered["reasons"] == [] and covered["amount"] == "30000.00", covered
    early = await call(api, clerk, "POST", f"/members/{nos[2]}/claims", 201, json=event)
    assert early["status"] == "rejected" and any("保障期" in r for r in early["reasons"]), early
    assert all("未注册" not in r for r in early["reasons"])  # the card was valid: only the coverage is missing


async def test_a_year_without_types_by_card_still_needs_the_clerks_choice(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    year = 2064
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 2, seed=6352)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    url = f"/enrollments/{e['id']}"
    e = await until(api, clerk, url, "draft")
    assert e["types_by_card"] is False
    missing = await decide(api, clerk, url, "/submit", 422)
    assert missing["error"]["code"] == "protection_type_required" and "A" in missing["error"]["message"]
    e = await decide(api, clerk, url, "/submit", 200, protection_type="B+")
    assert e["protection_type"] == "B+" and e["total"] == "200.00"
    assert [(x["protection_type"], x["members"], x["total"]) for x in e["protection_types"]] == [("B+", 2, "200.00")]
    assert (await call(api, tokens[ADMIN], "GET", url, 200))["protection_types"][0]["name"] == "B+类会员专享基本保障"
