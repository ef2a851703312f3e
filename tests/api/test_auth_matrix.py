"""Every role against every organisation of the demo tree, for every kind of endpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli.demo import DEMO_ORGS
from documents.fake_members import member_rows, write_csv
from tests.api.helpers import imported
from tests.conftest import auth

PARENT = {code: parent for code, _, _, parent, _ in DEMO_ORGS}
ACTORS = [
    "admin@SH",
    "center_reviewer@SH",
    "reviewer@101",
    "reviewer@101-S01",
    "clerk@101-0001",
    "clerk@101-S01-0001",
    "clerk@104-0001",
]
TARGETS = ["SH", "101", "101-S01", "101-0001", "101-S01-0001", "104-0001"]


def ancestors_or_self(code: str) -> set[str]:
    out = set()
    node: str | None = code
    while node:
        out.add(node)
        node = PARENT[node]
    return out


def covers(actor: str, org: str) -> bool:
    role, own = actor.split("@")
    if role == "admin":
        return True
    if role == "clerk":
        return org == own
    return own in ancestors_or_self(org)


def is_role(*roles: str) -> Callable[[str], bool]:
    return lambda actor: actor.split("@")[0] in (*roles, "admin")


async def status_of(api: httpx.AsyncClient, method: str, url: str, token: str | None, **kw: Any) -> int:
    headers = auth(token) if token else {}
    r = await api.request(method, url, headers=headers, **kw)
    if r.status_code in (401, 403):
        assert r.json()["error"]["code"] in ("missing_token", "invalid_token", "outside_scope", "role_not_allowed")
    return r.status_code


@pytest.mark.parametrize("actor", ACTORS)
async def test_org_scoped_endpoints(api: httpx.AsyncClient, tokens: dict[str, str], actor: str) -> None:
    token = tokens[actor]
    reviewer = is_role("reviewer", "center_reviewer")(actor)
    clerk = is_role("clerk")(actor)
    for org in TARGETS:
        cases: list[tuple[str, str, dict[str, Any], bool]] = [
            ("GET", f"/orgs/{org}", {}, covers(actor, org)),
            ("GET", f"/orgs/{org}/children", {}, covers(actor, org) and reviewer),
            ("GET", f"/orgs/{org}/members", {}, covers(actor, org)),
            ("POST", f"/orgs/{org}/members/imports", {"files": {"file": ("x.csv", b"")}}, covers(actor, org) and clerk),
        ]
        for method, url, kw, allowed in cases:
            code = await status_of(api, method, url, token, **kw)
            assert (code not in (401, 403)) == allowed, (actor, method, url, code)
            if not allowed:
                assert code == 403


@pytest.mark.parametrize("actor", ACTORS)
async def test_role_endpoints(api: httpx.AsyncClient, tokens: dict[str, str], actor: str) -> None:
    token = tokens[actor]
    admin = actor.startswith("admin@")
    cases: list[tuple[str, str, dict[str, Any], bool]] = [
        ("GET", "/members/template.xlsx", {}, True),
        ("GET", "/me", {}, True),
        ("GET", "/audit", {}, is_role("reviewer", "center_reviewer")(actor)),
        ("POST", "/orgs", {"json": {"code": "x"}}, admin),
        ("POST", "/users", {"json": {}}, admin or is_role("reviewer")(actor)),  # reviewers manage accounts below
    ]
    for method, url, kw, allowed in cases:
        code = await status_of(api, method, url, token, **kw)
        assert (code not in (401, 403)) == allowed, (actor, method, url, code)


async def test_member_endpoints(api: httpx.AsyncClient, tokens: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one.csv", list(member_rows(1, seed=901)))
    await imported(api, tokens["clerk@101-0001"], "101-0001", path)
    page = (await api.get("/orgs/101-0001/members", params={"size": 1}, headers=auth(tokens["clerk@101-0001"]))).json()
    member_no = page["items"][0]["member_no"]
    for actor in ACTORS:
        token = tokens[actor]
        read = await status_of(api, "GET", f"/members/{member_no}", token)
        assert (read == 200) == covers(actor, "101-0001"), (actor, read)
        patch = await status_of(api, "PATCH", f"/members/{member_no}", token, json={})
        assert (patch == 200) == (covers(actor, "101-0001") and is_role("clerk")(actor)), (actor, patch)


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc"])
async def test_missing_or_bad_token_is_401(api: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for url in ("/orgs/SH", "/orgs/101-0001/members", "/audit", "/members/template.xlsx"):
        r = await api.get(url, headers=headers)
        assert r.status_code == 401, (url, header)
        assert r.json()["error"]["code"] in ("missing_token", "invalid_token")
        assert r.json()["error"]["message"]
