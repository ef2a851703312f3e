"""The member registry over HTTP: masked lists, filters, corrections with the import's rules, audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from core.db import Database
from documents.fake_members import HEADERS, member_rows, write_csv
from tests.api.helpers import imported
from tests.conftest import auth
from tests.enrollment_setup import carded_members, fresh_union

CLERK = "clerk@101-S01-0001"
ORG = "101-S01-0001"


async def setup_members(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path, seed: int) -> list[list[str]]:
    rows = list(member_rows(6, seed=seed))
    rows[5][HEADERS.index("在职状态")] = "退休"
    rows[5][HEADERS.index("退休日期")] = "2024-03-31"
    await imported(api, tokens[CLERK], ORG, write_csv(tmp_path / "m.csv", rows))
    return rows


async def find(api: httpx.AsyncClient, token: str, **params: Any) -> dict[str, Any]:
    r = await api.get(f"/orgs/{ORG}/members", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_lists_mask_ids_and_phones_and_filter(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = await setup_members(api, tokens, tmp_path, seed=31)
    token = tokens[CLERK]
    number, phone = rows[0][HEADERS.index("证件号码")], rows[0][HEADERS.index("手机号码")]
    by_id = await find(api, token, q=number)
    assert by_id["total"] == 1
    item = by_id["items"][0]
    assert item["id_number"] == number[:6] + "********" + number[-4:]
    assert item["phone"] == phone[:3] + "****" + phone[-4:]
    assert (await find(api, token, q=phone))["total"] == 1
    retired = await find(api, token, employment_status="retired")
    assert rows[5][HEADERS.index("证件号码")][-4:] in {m["id_number"][-4:] for m in retired["items"]}
    assert all(m["employment_status"] == "retired" for m in retired["items"])
    issued = await find(api, token, card_status="issued", size=500)
    assert all(m["card_status"] == "issued" for m in issued["items"])
    assert number[-4:] not in {m["id_number"][-4:] for m in issued["items"] if m["name"] == rows[0][0]}
    page = await find(api, token, size=2, page=2)
    assert page["size"] == 2 and len(page["items"]) == 2 and page["total"] >= 6
    reviewer = await find(api, tokens["reviewer@101"], q=number)
    assert reviewer["total"] == 1
    r = await api.get("/orgs/101/members", params={"q": number}, headers=auth(tokens["reviewer@101"]))
    assert r.json()["total"] == 0  # the district itself has no members
    r = await api.get(
        "/orgs/101/members", params={"q": number, "subtree": "true"}, headers=auth(tokens["reviewer@101"])
    )
    assert r.json()["total"] == 1 and r.json()["items"][0]["org_code"] == ORG


async def test_reading_one_member_and_revealing_is_audited(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = await setup_members(api, tokens, tmp_path, seed=32)
    number = rows[0][HEADERS.index("证件号码")]
    member_no = (await find(api, tokens[CLERK], q=number))["items"][0]["member_no"]
    masked = (await api.get(f"/members/{member_no}", headers=auth(tokens[CLERK]))).json()
    assert masked["id_number"] != number and masked["org_code"] == ORG
    full = (await api.get(f"/members/{member_no}", params={"reveal": "true"}, headers=auth(tokens[CLERK]))).json()
    assert full["id_number"] == number
    audit = (
        await api.get("/audit", params={"entity": f"member:{member_no}"}, headers=auth(tokens["reviewer@101"]))
    ).json()
    assert [a["action"] for a in audit] == ["member.revealed"]
    r = await api.get("/members/0000000000", headers=auth(tokens[CLERK]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "member_not_found"


async def test_corrections_follow_the_import_rules(
    api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    rows = await setup_members(api, tokens, tmp_path, seed=33)
    token = tokens[CLERK]
    member_no = (await find(api, token, q=rows[1][HEADERS.index("证件号码")]))["items"][0]["member_no"]
    url = f"/members/{member_no}"
    bad = [
        ({"id_expiry": "2001-01-01"}, "id_expired"),
        ({"phone": "1234"}, "invalid_phone"),
        ({"work_address": "黄浦区"}, "work_address_too_short"),
        ({"employment_status": "retired"}, "required"),
        ({"employment_status": "retired", "retirement_date": "2099-01-01"}, "date_in_future"),
    ]
    for body, code in bad:
        r = await api.patch(url, json=body, headers=auth(token))
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code
    r = await api.patch(url, json={"phone": rows[2][HEADERS.index("手机号码")]}, headers=auth(token))
    assert r.status_code == 409 and r.json()["error"]["code"] == "phone_taken"
    r = await api.patch(
        url,
        json={
            "id_expiry": "2035年6月1日",
            "phone": "19900001111",
            "employment_status": "retired",
            "retirement_date": "2025/12/31",
        },
        headers=auth(token),
    )
    assert r.status_code == 200, r.text
    member = r.json()
    assert member["id_expiry"] == "2035-06-01" and member["phone"] == "199****1111"
    assert member["employment_status"] == "retired" and member["retirement_date"] == "2025-12-31"
    r = await api.patch(url, json={"employment_status": "deceased", "deceased_date": "2026-01-05"}, headers=auth(token))
    assert r.status_code == 200 and r.json()["employment_status"] == "deceased"
    audit = (await api.get("/audit", params={"entity": f"member:{member_no}"}, headers=auth(tokens["admin@SH"]))).json()
    assert [a["action"] for a in audit] == ["member.corrected", "member.corrected"]
    assert "手机号码" in audit[1]["summary"] and "19900001111" not in str(audit)


async def test_template_has_chinese_headers_and_allowed_values(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    import io

    from openpyxl import load_workbook

    r = await api.get("/members/template.xlsx", headers=auth(tokens[CLERK]))
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    headers = [c.value for c in wb["会员信息"][1]]
    assert headers[0] == "姓名*" and "工作单位详细地址*" in headers and "学历" in headers
    allowed = {str(row[0]): str(row[3]) for row in wb["允许值"].iter_rows(min_row=2, values_only=True)}
    assert "借贷合一卡" in allowed["办卡类型"] and "长期" in allowed["证件有效期至"]


async def test_a_filled_in_template_imports(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path) -> None:
    import io

    from openpyxl import load_workbook

    r = await api.get("/members/template.xlsx", headers=auth(tokens[CLERK]))
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["会员信息"]
    for row in member_rows(3, seed=34):
        ws.append(row)
    wb.save(tmp_path / "filled.xlsx")
    body = await imported(api, tokens[CLERK], ORG, tmp_path / "filled.xlsx")
    assert body["accepted"] == 3


async def test_a_special_channel_member_gets_the_nationality_the_special_channel_needs(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp_path: Path
) -> None:
    org, clerk = await fresh_union(api, tokens, "101")
    (member_no,) = await carded_members(api, db, clerk, org, tmp_path, 1, seed=6363)
    with db.connect() as conn:
        conn.execute("UPDATE members SET nationality = NULL WHERE member_no = %s", (member_no,))
        conn.commit()
    empty = await api.patch(f"/members/{member_no}", json={"nationality": "  "}, headers=auth(clerk))
    assert empty.status_code == 422 and empty.json()["error"]["details"]["field"] == "nationality", empty.text
    done = await api.patch(f"/members/{member_no}", json={"nationality": "中国"}, headers=auth(clerk))
    assert done.status_code == 200 and done.json()["nationality"] == "中国", done.text
    audit = await api.get("/audit", params={"entity": f"member:{member_no}"}, headers=auth(tokens["reviewer@101"]))
    assert any("国籍" in row["summary"] for row in audit.json())
