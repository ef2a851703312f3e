"""Organisations, users, health, and the one error shape."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import auth


async def test_admin_builds_the_tree(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin@SH"])
    r = await api.post(
        "/orgs", json={"code": "107", "name": "普陀区总工会", "level": "district", "parent_code": "SH"}, headers=admin
    )
    assert r.status_code == 201, r.text
    assert r.json()["district_code"] == "107"
    r = await api.post(
        "/orgs",
        json={
            "code": "107-0001",
            "name": "普陀某公司工会委员会",
            "level": "grassroots",
            "parent_code": "107",
            "grassroots_type": "committee",
        },
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["district_code"] == "107" and r.json()["card_work_supported"] is True
    children = (await api.get("/orgs/107/children", headers=admin)).json()
    assert [c["code"] for c in children] == ["107-0001"]
    r = await api.post(
        "/orgs",
        json={
            "code": "107-0002",
            "name": "分工会",
            "level": "grassroots",
            "parent_code": "107",
            "grassroots_type": "branch",
        },
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["card_work_supported"] is False


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "12", "name": "x", "level": "district", "parent_code": "SH"}, 422, "invalid_district_code"),
        ({"code": "101", "name": "x", "level": "district", "parent_code": "SH"}, 409, "org_code_taken"),
        ({"code": "C2", "name": "x", "level": "city"}, 409, "city_exists"),
        (  # a name the documents' font cannot draw would print blank on every notice
            {"code": "199", "name": "𠮷野家工会", "level": "district", "parent_code": "SH"},
            422,
            "unprintable_characters",
        ),
        (
            {"code": "G-1", "name": "x", "level": "grassroots", "parent_code": "SH", "grassroots_type": "committee"},
            422,
            "invalid_parent",
        ),
        ({"code": "G-2", "name": "x", "level": "grassroots", "parent_code": "101"}, 422, "grassroots_type_required"),
        (
            {"code": "G-3", "name": "x", "level": "grassroots", "parent_code": "999", "grassroots_type": "joint"},
            404,
            "org_not_found",
        ),
        ({"code": "x", "name": "x", "level": "nowhere"}, 422, "invalid_request"),
    ],
)
async def test_bad_organisations_are_refused(
    api: httpx.AsyncClient, tokens: dict[str, str], body: dict[str, str], status: int, code: str
) -> None:
    r = await api.post("/orgs", json=body, headers=auth(tokens["admin@SH"]))
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert set(error) == {"code", "message", "details"}


async def test_admin_creates_a_user_whose_token_works_once_shown(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    r = await api.post(
        "/users", json={"name": "新经办人", "org_code": "101-0001", "role": "clerk"}, headers=auth(tokens["admin@SH"])
    )
    assert r.status_code == 201
    token = r.json()["token"]
    me = (await api.get("/me", headers=auth(token))).json()
    assert me == {"id": r.json()["id"], "login": r.json()["login"], "name": "新经办人", "org_code": "101-0001",
                  "role": "clerk", "csrf_token": None}  # fmt: skip  (a bearer token: no session, no CSRF token)
    r = await api.post(
        "/users", json={"name": "x", "org_code": "101", "role": "center_reviewer"}, headers=auth(tokens["admin@SH"])
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_role_for_org"


async def test_health_ready_and_unknown_routes(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json() == {"status": "ok"}
    ready = await api.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "temporal": "ok"}
    r = await api.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert r.headers["x-request-id"]
