"""The workbench over HTTP (without a browser): who gets which page, errors as pages, the JSON
API beside it unchanged, and member lists that never show a full ID number or phone."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
from openpyxl import load_workbook
from sqlmodel import select

from core.db import Database
from models.enrollment import Enrollment
from models.org import Organisation
from models.states import EnrollmentStatus
from rules.calendar import today
from tests.api.helpers import call
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, carded_members, config_around, fresh_union, put_year

PASSWORD = "Pages-test-2026-ok"


async def signed_in(api: httpx.AsyncClient, tokens: dict[str, str], org: str, login: str, role: str = "clerk") -> str:
    """An account of ``org`` with its password set, signed in through the sign-in form: its CSRF token."""
    made = await call(
        api,
        tokens[ADMIN],
        "POST",
        "/users",
        201,
        json={"name": "页面测试", "org_code": org, "role": role, "login": login},
    )
    await api.post("/accounts/setup", json={"login": login, "setup_code": made["setup_code"], "password": PASSWORD})
    r = await api.post("/ui/sign-in", data={"login": login, "password": PASSWORD, "next": "/ui/inbox"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/inbox", r.text
    home = await api.get("/")
    found = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert home.status_code == 200 and "首页" in home.text and found
    return found.group(1)


async def test_visitors_sign_in_and_pages_answer_as_pages(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    visitor = await api.get("/")
    assert visitor.status_code == 200 and 'action="/ui/sign-in"' in visitor.text and "登录名" in visitor.text
    away = await api.get("/ui/inbox")
    assert (away.status_code, away.headers["location"]) == (303, "/ui/sign-in?next=/ui/inbox")
    wrong = await api.post("/ui/sign-in", data={"login": "nobody-here", "password": "whatever-pass"})
    assert wrong.status_code == 401 and 'data-code="invalid_credentials"' in wrong.text
    assert (await api.get("/orgs/101")).json()["error"]["code"] == "missing_token"  # the JSON API as it was
    csrf = await signed_in(api, tokens, "101-0001", "pages-a")
    elsewhere = await api.post("/ui/sign-in", data={"login": "pages-a", "password": PASSWORD, "next": "//evil.example"})
    assert (elsewhere.status_code, elsewhere.headers["location"]) == (303, "/")  # only a path of our own
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await api.get("/")).text).group(1)  # type: ignore[union-attr]
    forged = await api.post("/ui/tokens", data={"name": "伪造"})
    assert forged.status_code == 403 and 'data-code="csrf"' in forged.text and "<html" in forged.text
    made = await api.post("/ui/tokens", data={"name": "页面令牌", "csrf_token": csrf})
    assert made.status_code == 201 and 'id="new-token"' in made.text
    missing = await api.get("/ui/claims/2147483647")
    assert missing.status_code == 404 and "给付申请 2147483647 不存在" in missing.text and "<html" in missing.text
    outside = await api.get("/ui/orgs/104-0001/members")
    assert outside.status_code == 403 and 'data-code="outside_scope"' in outside.text
    signed_out = await api.post("/ui/sign-out", data={"csrf_token": csrf})
    assert signed_out.status_code == 303 and (await api.get("/ui/inbox")).status_code == 303


async def test_member_lists_mask_ids_and_phones(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 3, seed=6356)
    full = [(await call(api, clerk, "GET", f"/members/{n}", 200, params={"reveal": "true"})) for n in nos]
    made = await call(
        api,
        tokens[ADMIN],
        "POST",
        "/users",
        201,
        json={"name": "页面测试", "org_code": org, "role": "clerk", "login": f"pages-{org.lower()}"},
    )
    await api.post(
        "/accounts/setup", json={"login": made["login"], "setup_code": made["setup_code"], "password": PASSWORD}
    )
    r = await api.post("/ui/sign-in", data={"login": made["login"], "password": PASSWORD})
    assert r.status_code == 303
    listed = await api.get(f"/ui/orgs/{org}/members")
    assert listed.status_code == 200 and "共 3 人" in listed.text
    for m in full:
        assert m["name"] in listed.text and m["id_number"] not in listed.text and m["phone"] not in listed.text
        assert m["id_number"][:6] in listed.text  # masked, not left out
    searched = await api.get(f"/ui/orgs/{org}/members", params={"q": full[0]["id_number"]})
    assert "共 1 人" in searched.text and full[0]["name"] in searched.text


async def test_lists_page_on_the_server(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    await signed_in(api, tokens, "101-0001", "pages-lists")
    first = await api.get("/ui/orgs/101-0001/card-batches")
    assert first.status_code == 200 and "第 1 页" in first.text
    second = await api.get("/ui/orgs/101-0001/card-batches", params={"page": "2"})
    assert second.status_code == 200 and "第 2 页" in second.text and 'href="?page=1"' in second.text
    odd = await api.get("/ui/orgs/101-0001/cards", params={"page": "not-a-page"})
    assert odd.status_code == 200 and "第 1 页" in odd.text  # an odd page is the first


async def test_a_clerk_changes_a_members_id_type_with_its_number(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    org, clerk = await fresh_union(api, tokens, "101")
    first, second = await carded_members(api, db, clerk, org, tmp_path, 2, seed=6371)
    with db.connect() as conn:  # the first has no card yet: its document may still change
        conn.execute("UPDATE members SET card_status = 'none', card_no = NULL WHERE member_no = %s", (first,))
        conn.commit()
    csrf = await signed_in(api, tokens, org, f"pages-id-{org.lower()}")
    url = f"/ui/members/{first}/corrections"
    shown = await api.get(f"/ui/members/{first}")
    assert '<label for="id_type">证件类型' in shown.text and '<option value="passport">护照</option>' in shown.text
    bad = await api.post(url, data={"csrf_token": csrf, "id_type": "passport", "id_number": "E-12"})
    assert bad.status_code == 422 and 'id="id_number-error"' in bad.text and 'data-code="id_number_format"' in bad.text
    assert "证件号码（护照）：护照号码格式不正确" in bad.text and 'value="E-12"' in bad.text
    assert '<option value="passport" selected>' in bad.text  # what the clerk typed comes back
    odd = await api.post(url, data={"csrf_token": csrf, "id_type": "driving_licence"})
    assert odd.status_code == 422 and 'data-code="invalid_request"' in odd.text
    number = "E" + str(uuid.uuid4().int)[:8]
    done = await api.post(url, data={"csrf_token": csrf, "id_type": "passport", "id_number": number.lower()})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/ui/members/{first}?done=")
    page = await api.get(done.headers["location"])
    assert "护照 " + number[:2] + "*****" + number[-2:] in page.text and number not in page.text
    member = await call(api, clerk, "GET", f"/members/{first}", 200, params={"reveal": "true"})
    assert (member["id_type"], member["id_number"], member["special_channel"]) == ("passport", number, True)
    audit = await call(api, tokens[ADMIN], "GET", "/audit", 200, params={"entity": f"member:{first}"})
    assert any("证件类型" in a["summary"] for a in audit) and number not in str(audit)
    locked = await api.post(
        f"/ui/members/{second}/corrections", data={"csrf_token": csrf, "id_type": "passport", "id_number": number}
    )
    assert locked.status_code == 409 and 'data-code="identity_locked"' in locked.text and "已发卡" in locked.text
    api_door = await api.patch(f"/members/{second}", json={"id_type": "passport"}, headers=auth(clerk))
    assert api_door.status_code == 409 and api_door.json()["error"]["code"] == "identity_locked"  # both doors alike


async def test_the_center_sees_the_city_wide_statistics_by_district(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    year = 2079  # no other test has an enrollment of this year
    union, _ = await fresh_union(api, tokens, "101")
    returned, _ = await fresh_union(api, tokens, "104")
    with db.session() as session:  # two enrollments as their workflows leave them: one paid, one returned
        for code, status, enrolled, fee, paid in (
            (union, "paid", 3, 54000, 54000),
            (returned, "returned", 2, 36000, None),
        ):
            org = session.exec(select(Organisation).where(Organisation.code == code)).one()
            session.add(
                Enrollment(
                    org_id=org.id or 0, year=year, status=EnrollmentStatus(status),
                    district_code=org.district_code or "", enrolled=enrolled, members_total=enrolled,
                    total_fen=fee, paid_fen=paid, workflow_id=f"stats-test-{code}", created_by=1,
                )
            )  # fmt: skip
        session.commit()
    await signed_in(api, tokens, "SH", f"pages-center-{union.lower()}", role="center_reviewer")
    home = await api.get("/")
    assert '<a href="/ui/statistics">全市统计</a>' in home.text
    picked = await api.get("/ui/statistics", params={"year": str(year)})
    assert (picked.status_code, picked.headers["location"]) == (303, f"/ui/statistics/{year}")
    shown = await api.get(f"/ui/statistics/{year}")
    assert shown.status_code == 200 and '<label for="year">年度</label>' in shown.text
    row_101 = re.search(r'<tr data-district="101">(.*?)</tr>', shown.text, re.S)
    row_104 = re.search(r'<tr data-district="104">(.*?)</tr>', shown.text, re.S)
    assert row_101 and row_104
    assert f'href="/ui/rounds/101/{year}#paid"' in row_101.group(1) and "540.00" in row_101.group(1)
    assert f'href="/ui/rounds/104/{year}#returned"' in row_104.group(1) and "<td>2</td>" in row_104.group(1)
    assert f'href="/districts/101/enrollments/{year}/statistics.xlsx"' in row_101.group(1)
    total = re.search(r'<dl class="figures" id="city-total">(.*?)</dl>', shown.text, re.S)
    assert (
        total and 'data-figure="members">5 人' in total.group(1) and 'data-figure="total">900.00 元' in total.group(1)
    )
    assert 'data-figure="paid">540.00 元' in total.group(1)
    assert '<dd data-stage="returned">1 家</dd>' in total.group(1) and '<dd data-stage="paid">1 家</dd>' in total.group(
        1
    )
    sheet = await api.get(f"/districts/101/enrollments/{year}/statistics.xlsx")
    assert sheet.status_code == 200 and sheet.headers["content-disposition"].startswith("attachment")
    assert f'href="/programme-years/{year}/statistics.xlsx"' in shown.text
    city = await api.get(f"/programme-years/{year}/statistics.xlsx")
    assert city.status_code == 200 and city.headers["content-disposition"].startswith("attachment")
    cells = [str(c.value) for row in load_workbook(io.BytesIO(city.content)).worksheets[0].iter_rows() for c in row]
    assert union in cells and returned in cells  # both districts' unions in the one workbook
    await signed_in(api, tokens, "101", f"pages-district-{union.lower()}", role="reviewer")
    refused = await api.get(f"/ui/statistics/{year}")
    assert refused.status_code == 403 and "<html" in refused.text
    district = await api.get(f"/programme-years/{year}/statistics.xlsx")
    assert district.status_code == 403 and district.json()["error"]["code"] == "role_not_allowed"
    assert '<a href="/ui/statistics">' not in (await api.get("/")).text


async def test_an_admin_edits_a_programme_year_and_extends_a_date_in_force(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    year, day = 2091, today("Asia/Shanghai")
    config = config_around(day)
    await put_year(api, tokens, year, config)
    csrf = await signed_in(api, tokens, "SH", f"pages-years-{uuid.uuid4().hex[:6]}", role="admin")
    assert '<a href="/ui/programme-years">保障年度</a>' in (await api.get("/")).text
    listed = [(await api.get("/ui/programme-years", params={"page": n})).text for n in range(1, 6)]
    assert "第 1 页" in listed[0] and any(f'href="/ui/programme-years/{year}"' in text for text in listed)
    url = f"/ui/programme-years/{year}"
    shown = await api.get(url)
    assert shown.status_code == 200 and '<label for="payment_deadline">缴费截止日</label>' in shown.text
    assert f'name="payment_deadline" type="date" value="{config["payment_deadline"]}"' in shown.text
    form = {"csrf_token": csrf, "protection_types.0.price": "30", "district_window.end": "2091-13-01"}
    bad = await api.post(url, data=form)
    assert bad.status_code == 422 and 'id="district_window-end-error"' in bad.text and "应为日期" in bad.text
    assert 'name="protection_types.0.price" type="text" value="30"' in bad.text  # what was typed comes back
    early = (day - timedelta(days=30)).isoformat()  # before the submission window opens
    odd = await api.post(url, data={"csrf_token": csrf, "payment_deadline": early})
    assert odd.status_code == 422 and "缴费截止日早于基层提交窗口的开始日" in odd.text
    done = await api.post(url, data={"csrf_token": csrf, "protection_types.0.price": "30", "default_split.city": "50"})
    assert done.status_code == 303 and done.headers["location"].startswith(f"{url}?done=")
    saved = await call(api, tokens[ADMIN], "GET", f"/programme-years/{year}", 200)
    assert saved["config"]["protection_types"][0]["price"] == "30.00"
    assert saved["config"]["payment_deadline"] == config["payment_deadline"]  # the rest as it was

    union, _ = await fresh_union(api, tokens, "101")  # an enrollment of the year: its dates are in force
    with db.session() as session:
        org = session.exec(select(Organisation).where(Organisation.code == union)).one()
        session.add(
            Enrollment(
                org_id=org.id or 0, year=year, district_code="101", workflow_id=f"years-test-{union}", created_by=1
            )
        )
        session.commit()
    later = (day + timedelta(days=7)).isoformat()
    in_force = await api.post(url, data={"csrf_token": csrf, "payment_deadline": later})
    assert in_force.status_code == 409 and 'data-code="dates_in_force"' in in_force.text
    assert 'id="payment_deadline-error"' in in_force.text and 'href="#extension"' in in_force.text
    ext = {"csrf_token": csrf, "kind": "payment_deadline", "reason": "区局申请延长缴费期限"}
    not_later = await api.post(f"{url}/extensions", data={**ext, "new_date": day.isoformat()})
    assert not_later.status_code == 409 and 'data-code="extension_not_later"' in not_later.text
    assert "须晚于当前的" in not_later.text and "区局申请延长缴费期限" in not_later.text  # the reason kept
    made = await api.post(f"{url}/extensions", data={**ext, "new_date": later})
    assert made.status_code == 303
    page = await api.get(made.headers["location"])
    assert 'data-extension="payment_deadline"' in page.text and f"延至 {later}" in page.text
    extended = await call(api, tokens[ADMIN], "GET", f"/programme-years/{year}", 200)
    assert extended["config"]["payment_deadline"] == later

    await signed_in(api, tokens, "SH", f"pages-years-c-{uuid.uuid4().hex[:6]}", role="center_reviewer")
    center = await api.get(url)
    assert f'action="/ui/programme-years/{year}/extensions"' in center.text
    assert f'action="{url}"' not in center.text  # the configuration is the admins'
    token = re.search(r'csrf_token" value="([^"]+)"', center.text)
    refused = await api.post(url, data={"csrf_token": token.group(1) if token else ""})
    assert refused.status_code == 403 and 'data-code="role_not_allowed"' in refused.text


async def test_an_admin_starts_a_new_year_from_a_configured_one(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    template, year = 2073, 2075  # years of this test alone
    config = config_around(today("Asia/Shanghai"))
    await put_year(api, tokens, template, config)
    csrf = await signed_in(api, tokens, "SH", f"pages-new-year-{uuid.uuid4().hex[:6]}", role="admin")
    listed = await api.get("/ui/programme-years")
    assert '<label for="new-year">新年度</label>' in listed.text and 'action="/ui/programme-years/new"' in listed.text
    asked = await api.get("/ui/programme-years/new", params={"year": year, "from": template})
    assert (asked.status_code, asked.headers["location"]) == (303, f"/ui/programme-years/{year}?from={template}")
    shown = await api.get(asked.headers["location"])
    deadline = date.fromisoformat(config["payment_deadline"])
    moved = str(deadline.replace(year=deadline.year + 2, day=min(deadline.day, 28 if deadline.month == 2 else 31)))
    assert shown.status_code == 200 and f"新建 {year}年度" in shown.text and "日期顺延 2 年" in shown.text
    assert f'name="payment_deadline" type="date" value="{moved}"' in shown.text
    assert (await api.get(f"/programme-years/{year}", headers=auth(tokens[ADMIN]))).status_code == 404  # not yet saved
    form = {"csrf_token": csrf, "from_year": str(template), "protection_types.1.price": "-1"}
    refused = await api.post(f"/ui/programme-years/{year}", data=form)
    assert refused.status_code == 422 and f"新建 {year}年度" in refused.text  # still the new year's form
    saved = await api.post(f"/ui/programme-years/{year}", data={**form, "protection_types.1.price": "120"})
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/ui/programme-years/{year}?done=")
    made = await call(api, tokens[ADMIN], "GET", f"/programme-years/{year}", 200)
    assert made["config"]["payment_deadline"] == moved and made["config"]["protection_types"][1]["price"] == "120.00"
    again = await api.get("/ui/programme-years/new", params={"year": year, "from": template})
    assert again.headers["location"].startswith(f"/ui/programme-years/{year}?done=")  # configured: its own page
