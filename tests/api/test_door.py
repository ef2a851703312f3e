"""Bad input is refused at the door: strings without control characters or broken encoding and
within their columns' lengths, ids and pages within range, refusals in Chinese with the field's
label; configuration within bounds."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from psycopg.types.json import Jsonb
from pydantic import BaseModel
from temporalio.client import Client

import models
from api import routes
from api.app import create_app
from core.db import Database
from core.settings import Settings
from models.inputs import LABELS, RequestBody
from tests.conftest import auth, free_port, serve
from tests.enrollment_setup import config_around

INT4_OVER = 2**31


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, error
    return error


@pytest.mark.parametrize(
    "raw",
    [b'{"member_nos": ["\\ud800"]}', b'{"member_nos": ["101000\\u00000001"]}', b'{"member_nos": ["abc"]}'],
    ids=["lone-surrogate", "nul", "not-ten-digits"],
)
@pytest.mark.parametrize(
    "url", ["/card-batches/1/members/remove", "/enrollments/1/confirm", "/orgs/101-0001/registrations/2025"]
)
async def test_bad_member_numbers_never_reach_a_workflow(
    api: httpx.AsyncClient, tokens: dict[str, str], url: str, raw: bytes
) -> None:
    body = raw.replace(b"member_nos", b"card_nos") if "registrations" in url else raw
    started = time.monotonic()
    headers = {**auth(tokens["clerk@101-0001"]), "content-type": "application/json"}
    r = await api.post(url, content=body, headers=headers)
    error = _error(r, 422, "invalid_request")
    assert time.monotonic() - started < 5
    assert error["details"][0]["label"] in ("会员编号 第1项", "卡号 第1项"), error
    assert re.search("[\u4e00-\u9fff]", error["message"])


async def test_a_control_character_in_any_text_is_refused_with_its_label(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    admin = auth(tokens["admin@SH"])
    body = {"code": "X1", "name": "名\x07称", "level": "district", "parent_code": "SH"}
    r = await api.post("/orgs", json=body, headers=admin)
    error = _error(r, 422, "invalid_request")
    assert "名称 含有不允许的字符（第 2 个字符" in error["message"], error
    # a line break belongs in a description, not in a bank branch
    clerk = auth(tokens["clerk@101-0001"])
    r = await api.post("/orgs/101-0001/card-batches", json={"bank_branch": "工行\n某支行"}, headers=clerk)
    assert "开户网点 含有不允许的字符" in _error(r, 422, "invalid_request")["message"]


async def test_a_text_longer_than_its_column_is_refused(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    clerk = auth(tokens["clerk@101-0001"])
    r = await api.patch("/members/1010000001", json={"contact_address": "路" * 201}, headers=clerk)
    error = _error(r, 422, "invalid_request")
    assert error["message"] == "请求内容不正确：联系地址 过长（最多 200 个字符）", error
    r = await api.patch("/members/1010000001", json={"phone": "1" * 12}, headers=clerk)
    assert "手机号码 过长（最多 11 个字符）" in _error(r, 422, "invalid_request")["message"]


async def test_control_characters_in_paths_and_queries_are_refused(
    api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    clerk = auth(tokens["clerk@101-0001"])
    r = await api.get("/orgs/101-0001/members", params={"q": "张\x00三"}, headers=clerk)
    assert "查询内容 含有不允许的字符" in _error(r, 422, "invalid_request")["message"]
    r = await api.get("/members/101%000001", headers=clerk)
    assert "会员编号 含有不允许的字符" in _error(r, 422, "invalid_request")["message"]
    r = await api.get("/orgs/101-0001/members", params={"q": "张" * 1001}, headers=clerk)
    _error(r, 422, "invalid_request")


ID_CODES = {"batch_id": "batch_not_found", "claim_id": "claim_not_found", "enrollment_id": "enrollment_not_found",
            "import_id": "import_not_found", "evidence_id": "evidence_not_found"}  # fmt: skip


def _id_routes() -> list[tuple[str, str, str]]:
    """Every operation with an integer id in its path, and the id's name."""
    spec = create_app(Settings(database_url="postgresql://unused/unused")).openapi()
    out = []
    for path, operations in spec["paths"].items():
        names = [n for n in re.findall(r"\{(\w+)\}", path) if n in ID_CODES]
        out += [(method.upper(), path, names[-1]) for method in operations if names]
    return out


ID_ROUTES = _id_routes()


def test_every_id_route_is_covered() -> None:
    assert len(ID_ROUTES) >= 23


@pytest.mark.parametrize("value", [INT4_OVER, 0, -1, 10**30])
async def test_an_id_that_cannot_exist_is_not_found_on_every_route(
    api: httpx.AsyncClient, tokens: dict[str, str], value: int
) -> None:
    for method, path, name in ID_ROUTES:
        values = {name: str(value), "code": "101-0001", "year": "2025"}
        url = re.sub(r"\{(\w+)\}", lambda m, v=values: v.get(m[1], "1"), path)  # type: ignore[misc]
        r = await api.request(method, url, json={}, headers=auth(tokens["admin@SH"]))
        assert (r.status_code, r.json()["error"]["code"]) == (404, ID_CODES[name]), (method, url, r.text)


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("/orgs/101-0001/members?page=1000000000000000000", "页码 不能大于"),
        ("/orgs/101-0001/card-batches?page=1000000000000000000", "页码 不能大于"),
        ("/imports/1?errors_offset=1000000000000000000", "错误起始位置 不能大于"),
        ("/programme-years/99999", "年度 不能大于 2100"),
        ("/orgs/101-0001/registrations/-5", "年度"),
    ],
)
async def test_numbers_out_of_range_are_refused(
    api: httpx.AsyncClient, tokens: dict[str, str], url: str, label: str
) -> None:
    r = await api.get(url, headers=auth(tokens["admin@SH"]))
    assert label in _error(r, 422, "invalid_request")["message"]


@pytest.mark.parametrize("token", ["garbage", "Z2FyYmFnZQ==", "eyJhIjogMX0=", "%00"])
async def test_a_bad_page_token_is_refused_at_once(api: httpx.AsyncClient, tokens: dict[str, str], token: str) -> None:
    started = time.monotonic()
    r = await api.get("/admin/workflows", params={"page_token": token}, headers=auth(tokens["admin@SH"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in ("invalid_page_token", "invalid_request")
    assert time.monotonic() - started < 3


async def test_a_page_token_given_out_leads_to_the_next_page(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin@SH"])
    first = (await api.get("/admin/workflows", params={"size": 1, "include_closed": "true"}, headers=admin)).json()
    if first["next_page_token"]:
        r = await api.get(
            "/admin/workflows", params={"size": 1, "include_closed": "true", "page_token": first["next_page_token"]},
            headers=admin,
        )  # fmt: skip
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("year", [0, -5, 99999, 1999, 2101])
async def test_a_programme_year_outside_2000_to_2100_is_refused(
    api: httpx.AsyncClient, tokens: dict[str, str], year: int
) -> None:
    config = config_around(date(2030, 1, 1))
    r = await api.put(f"/programme-years/{year}", json=config, headers=auth(tokens["admin@SH"]))
    assert "年度" in _error(r, 422, "invalid_request")["message"]


@pytest.mark.parametrize(
    ("change", "label"),
    [
        ({"claim_amounts": {"critical_illness": 1e20}}, "给付金额"),
        ({"claim_amounts": {"critical_illness": "1000000.01"}}, "给付金额"),
        ({"claim_amounts": {"critical_illness": "10.005"}}, "给付金额"),
        ({"protection_types": [{"code": "A", "name": "A类", "price": "1e20"}]}, "保障类型 第1项 价格"),
        ({"protection_types": [{"code": "A", "name": "A类", "price": "NaN"}]}, "保障类型 第1项 价格"),
        ({"payment_deadline": "0001-01-01"}, "缴费截止日"),
        ({"coverage": {"start": "2030-01-01", "end": "9999-12-31"}}, "保障期 结束日"),
    ],
)
async def test_programme_amounts_and_dates_are_bounded(
    api: httpx.AsyncClient, tokens: dict[str, str], change: dict[str, Any], label: str
) -> None:
    config = {**config_around(date(2030, 1, 1)), **change}
    r = await api.put("/programme-years/2096", json=config, headers=auth(tokens["admin@SH"]))
    assert label in _error(r, 422, "invalid_request")["message"]


async def test_the_largest_amounts_are_accepted(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    config = {
        **config_around(date(2030, 1, 1)),
        "protection_types": [{"code": "A", "name": "A类", "price": "1000000.00"}],
        "claim_amounts": {"critical_illness": "1000000", "accidental_disability": "0.01", "accidental_death": "30000"},
    }
    r = await api.put("/programme-years/2097", json=config, headers=auth(tokens["admin@SH"]))
    assert r.status_code == 200, r.text
    amounts = r.json()["config"]["claim_amounts"]
    assert (amounts["critical_illness"], amounts["accidental_disability"]) == ("1000000.00", "0.01")
    assert amounts["accidental_death"] == "30000.00"
    assert r.json()["config"]["protection_types"][0]["price"] == "1000000.00"  # two places, no separators


async def test_garbage_to_the_codec_without_a_token_is_401(api: httpx.AsyncClient) -> None:
    for content_type in ("application/json", "text/plain"):
        r = await api.post("/codec/decode", content=b"\x14\xff", headers={"content-type": content_type})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "missing_token"), r.text


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: (\d+)", head)[1])  # type: ignore[index]
    return status, await reader.readexactly(length)


async def test_after_an_unexpected_error_the_connection_stays_open(
    settings: Settings, db: Database, temporal_client: Client
) -> None:
    app = create_app(settings, db=db, temporal=temporal_client)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken, methods=["GET"])
    port = free_port()
    async for _ in serve(app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for path, expected in (("/broken", 500), ("/health", 200), ("/broken", 500), ("/health", 200)):
                writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
                status, body = await _answer(reader)
                assert status == expected, body
                if status == 500:
                    assert b'"internal_error"' in body
        finally:
            writer.close()


async def test_a_request_id_is_taken_from_the_caller_only_when_it_is_one(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health", headers={"X-Request-ID": "abc-123"})).headers["x-request-id"] == "abc-123"
    echoed = (await api.get("/health", headers={"X-Request-ID": "x" * 5000})).headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{32}", echoed)


def _request_schemas(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, schema) of every property of every request body, nested models included."""
    components = spec["components"]["schemas"]
    seen: set[str] = set()
    out: list[tuple[str, dict[str, Any]]] = []

    def walk(name: str, schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            if ref not in seen:
                seen.add(ref)
                for prop, sub in components[ref].get("properties", {}).items():
                    out.append((prop, sub))
                    walk(prop, sub)
        for key in ("anyOf", "allOf", "oneOf"):
            for sub in schema.get(key, []):
                walk(name, sub)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                walk(name, schema[key])

    for operations in spec["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk("body", content["schema"])
    return out


def _leaves(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [leaf for sub in schema["anyOf"] for leaf in _leaves(sub)] if "anyOf" in schema else [schema]


SPEC = create_app(Settings(database_url="postgresql://unused/unused")).openapi()


def test_every_text_and_list_of_a_request_is_bounded() -> None:
    unbounded = []
    for name, schema in _request_schemas(SPEC):
        leaves = _leaves(schema)
        if any(leaf.get("type") == "number" for leaf in leaves):
            continue  # a decimal, given as a number or its text: bounded by its value
        for leaf in leaves:
            if leaf.get("type") == "string" and not {"enum", "format", "maxLength", "contentMediaType"} & set(leaf):
                unbounded.append(name)
            if leaf.get("type") == "array" and "maxItems" not in leaf:
                unbounded.append(name)
    assert unbounded == []


def test_every_integer_parameter_is_bounded_and_every_field_has_a_chinese_label() -> None:
    unbounded, unlabelled = [], set()
    for operations in SPEC["paths"].values():
        for operation in operations.values():
            for p in operation.get("parameters", []):
                if p["in"] in ("path", "query") and p["name"] not in LABELS:
                    unlabelled.add(p["name"])
                leaves = _leaves(p["schema"])
                if any(s.get("type") == "integer" and "maximum" not in s for s in leaves) and p["name"] not in ID_CODES:
                    unbounded.append(p["name"])
    unlabelled |= {name for name, _ in _request_schemas(SPEC) if name not in LABELS}
    assert unbounded == [] and unlabelled == set()


async def test_a_json_body_over_two_megabytes_is_refused(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    huge = b'{"member_nos": [' + b'"1010000001",' * 200_000 + b'"1010000001"]}'
    headers = {**auth(tokens["clerk@101-0001"]), "content-type": "application/json"}
    r = await api.post("/card-batches/1/members", content=huge, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "request_too_large"), r.text

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for i in range(0, len(huge), 65536):
            yield huge[i : i + 65536]

    r = await api.post("/card-batches/1/members", content=chunks(), headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "request_too_large"), r.text


async def test_a_stored_configuration_outside_todays_bounds_is_a_conflict_not_a_500(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database
) -> None:
    config = {**config_around(date(2030, 1, 1)), "claim_amounts": {"critical_illness": "1E+20"}}
    with db.connect() as conn:  # as a year saved before amounts were bounded
        conn.execute(
            "INSERT INTO programme_years (year, config, updated_at) VALUES (2095, %s, now()) "
            "ON CONFLICT (year) DO UPDATE SET config = EXCLUDED.config",
            (Jsonb(config),),
        )
    r = await api.get("/programme-years/2095", headers=auth(tokens["admin@SH"]))
    error = _error(r, 409, "stored_data_invalid")
    assert error["message"].startswith("已保存的年度保障计划配置不符合当前规则")
    assert error["details"]["model"] == "ProgrammeYearConfig"
    r = await api.put("/programme-years/2095", json=config_around(date(2030, 1, 1)), headers=auth(tokens["admin@SH"]))
    assert r.status_code == 200, r.text  # saved again within bounds, it reads again
    assert (await api.get("/programme-years/2095", headers=auth(tokens["admin@SH"]))).status_code == 200


def test_every_json_request_body_is_checked_at_the_door() -> None:
    """Each body model derives from RequestBody (its strings checked for control characters)."""
    classes: dict[str, list[type]] = {}
    names = [f"api.routes.{m.name}" for m in pkgutil.iter_modules(routes.__path__)]
    names += [f"models.{m.name}" for m in pkgutil.iter_modules(models.__path__)]
    for module in map(importlib.import_module, names):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                qualified = f"{value.__module__.replace('.', '__')}__{value.__name__}"
                for name in (value.__name__, qualified):
                    classes.setdefault(name, []).append(value)
    bodies = []
    for operations in SPEC["paths"].values():
        for operation in operations.values():
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in schema:
                bodies.append(schema["$ref"].rsplit("/", 1)[-1].removesuffix("-Input"))
    assert len(bodies) > 20
    unchecked = [b for b in bodies if not any(issubclass(c, RequestBody) for c in classes[b])]
    assert unchecked == []
