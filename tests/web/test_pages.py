"""The workbench over HTTP (without a browser): who gets which page, errors as pages, the JSON
API beside it unchanged, and member lists that never show a full ID number or phone."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from core.db import Database
from tests.api.helpers import call
from tests.enrollment_setup import ADMIN, carded_members, fresh_union

PASSWORD = "Pages-test-2026-ok"


async def signed_in(api: httpx.AsyncClient, tokens: dict[str, str], org: str, login: str) -> str:
    """An account of ``org`` with its password set, signed in through the sign-in form: its CSRF token."""
    made = await call(
        api,
        tokens[ADMIN],
        "POST",
        "/users",
        201,
        json={"name": "页面测试", "org_code": org, "role": "clerk", "login": login},
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
