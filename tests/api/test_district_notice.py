"""The district's notice letter over HTTP (seed 002 §4.5): after the district submits to the
Mutual Aid Center, the district and the center get 区局参保告知书 as HTML and PDF, with every
protection type's filed members, the total and its split, the coverage, the late-payment rule and
the center's account from the settings; nobody else gets it, and nobody before the submission."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pypdf
import pytest

from api.app import create_app
from core.db import Database
from core.settings import Settings
from documents.notices import chinese_date
from rules.calendar import today
from tests.api.helpers import call, decide, until
from tests.conftest import auth
from tests.enrollment_setup import (
    ADMIN,
    CENTER,
    DISTRICT,
    SECONDARY,
    carded_members,
    config_around,
    fresh_union,
    put_year,
)

TODAY = today("Asia/Shanghai")
YEAR = 2089
NOTICE = f"/districts/101/enrollments/{YEAR}/notice"


async def _approved(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, tmp: Path, members: int, kind: str, seed: int
) -> str:
    """A union directly under district 101 with an enrollment of ``members`` approved by the district."""
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp, members, seed=seed)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": YEAR})
    url = f"/enrollments/{e['id']}"
    await until(api, clerk, url, "draft")
    await decide(api, clerk, url, "/submit", 200, protection_type=kind)
    e = await decide(api, tokens[DISTRICT], url, "/review", 200, approve=True)
    assert e["status"] == "approved"
    return url


async def _pay(api: httpx.AsyncClient, tokens: dict[str, str], url: str) -> None:
    share = (await call(api, tokens[DISTRICT], "GET", url, 200))["grassroots_share"]
    e = await decide(api, tokens[DISTRICT], url, "/payment", 200, amount=share, reference="告知书测试")
    assert e["status"] == "paid"


async def test_the_district_gets_its_notice_when_it_submits_to_the_center(
    api: httpx.AsyncClient, tokens: dict[str, str], db: Database, settings: Settings, tmp_path: Path
) -> None:
    await put_year(api, tokens, YEAR, config_around(TODAY))  # split 50/30/20, A at 26, B+ at 100
    a = await _approved(api, tokens, db, tmp_path, 2, "A", seed=8901)
    b = await _approved(api, tokens, db, tmp_path, 3, "B+", seed=8902)
    await _approved(api, tokens, db, tmp_path, 1, "B+", seed=8903)  # approved, never paid: not filed
    for url in (a, b):
        await _pay(api, tokens, url)

    view = await call(api, tokens[DISTRICT], "GET", f"/districts/101/enrollments/{YEAR}", 200)
    assert view["notice_url"] is None
    early = await call(api, tokens[DISTRICT], "GET", NOTICE, 409)
    assert early["error"]["code"] == "not_submitted" and "提交至职保中心后" in early["error"]["message"]
    filing = await call(api, tokens[DISTRICT], "POST", f"/districts/101/enrollments/{YEAR}/submit", 200)
    assert (filing["enrollments"], filing["members"]) == (2, 5)
    assert filing["notice_url"] == NOTICE  # the submission's answer names its notice, as the seed downloads it

    page = await api.get(NOTICE, headers=auth(tokens[DISTRICT]))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "区局(产业)参保告知书" in text and "黄浦区总工会：" in text
    assert "参加A类会员共计2人，参加B+类会员共计3人，参保资金总额为 352.00 元。" in text
    config = (await call(api, tokens[ADMIN], "GET", f"/programme-years/{YEAR}", 200))["config"]
    start, end = config["coverage"]["start"], config["coverage"]["end"]
    assert f"保障日期为{_chinese(start)}起至{_chinese(end)}止。" in text
    assert f"逾期未划款，则按照即时参保流程另行办理参保手续，保障日期自办理参保日的次日起至{_chinese(end)}止。" in text
    assert f"户名：{settings.center_account_name}" in text
    assert f"帐号：{settings.center_account_no}" in text and f"开户行：{settings.center_bank}" in text
    assert f"{settings.center_name}</div>" in text and chinese_date(TODAY) in text
    for cell in ("176.00", "105.60", "70.40", "352.00"):  # city, district, grassroots, total
        assert f'<td class="num">{cell}</td>' in text, cell
    assert "盖章处" in text

    pdf = await api.get(NOTICE, params={"format": "pdf"}, headers=auth(tokens[CENTER]))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f"attachment; filename=district-notice-101-{YEAR}.pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    pdf_text = "".join(p.extract_text() for p in reader.pages)
    assert settings.center_account_no in pdf_text and "352.00" in pdf_text and "黄浦区总工会" in pdf_text
    assert b"/FontFile2" in pdf.content
    assert (await api.get(NOTICE, params={"format": "pdf"}, headers=auth(tokens[ADMIN]))).content == pdf.content


async def test_nobody_else_reads_the_district_notice(api: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    clerk = await call(api, tokens["clerk@101-0001"], "GET", NOTICE, 403)
    assert clerk["error"]["code"] == "role_not_allowed"
    secondary = await call(api, tokens[SECONDARY], "GET", NOTICE, 403)
    assert secondary["error"]["code"] == "outside_scope"
    other = await call(api, tokens[DISTRICT], "GET", f"/districts/104/enrollments/{YEAR}/notice", 403)
    assert other["error"]["code"] == "outside_scope"
    grassroots = await call(api, tokens[ADMIN], "GET", "/districts/101-0001/enrollments/2089/notice", 409)
    assert grassroots["error"]["code"] == "not_a_district"
    never = await call(api, tokens[ADMIN], "GET", "/districts/104/enrollments/2089/notice", 409)
    assert never["error"]["code"] == "not_submitted"
    bad = await call(api, tokens[ADMIN], "GET", NOTICE, 422, params={"format": "doc"})
    assert bad["error"]["code"]


def _chinese(iso: str) -> str:
    y, m, d = (int(part) for part in iso.split("-"))
    return f"{y}年{m}月{d}日"


def test_the_api_does_not_start_with_a_center_name_its_notices_cannot_print(settings: Settings) -> None:
    for field in ("center_name", "center_account_name", "center_bank"):
        with pytest.raises(ValueError, match="𠮷"):
            create_app(settings.model_copy(update={field: "𠮷保障中心"}))
    create_app(settings.model_copy(update={"center_name": "上海市堃喆职工保障互助中心"}))  # GBK's rarer ones print
