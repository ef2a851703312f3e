"""Journeys through the workbench in Chromium, each from sign-in: a claim approved level by level
from each reviewer's inbox and paid (a second click on an approval changes nothing); sign-in
lockout, a form without its CSRF token refused, a session ended by deactivation."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from playwright.async_api import expect

from bank_sim.app import Bank, BankConfig
from core.db import Database
from documents.fake_members import HEADERS, member_rows, write_csv, write_xlsx
from tests.api.helpers import call
from tests.api.test_card_batches import member_nos, reset, submitted_batch
from tests.api.test_card_batches import members as members  # the fixture
from tests.api.test_claims import TODAY, claimant, programme_year
from tests.api.test_waiting import retrying
from tests.browser.conftest import Visit
from tests.conftest import auth
from tests.enrollment_setup import ADMIN, carded_members, config_around, fresh_union, put_year

__all__ = ["members", "programme_year"]  # fixtures: the union's members, the claims' programme year
PASSWORD = "Workbench-2026-ok"


async def with_password(api: httpx.AsyncClient, tokens: dict[str, str], org: str, role: str, login: str) -> str:
    """A new account of ``org`` whose password is set with its setup code: its token."""
    made = await call(
        api,
        tokens[ADMIN],
        "POST",
        "/users",
        201,
        json={"name": f"{login}用户", "org_code": org, "role": role, "login": login},
    )
    r = await api.post("/accounts/setup", json={"login": login, "setup_code": made["setup_code"], "password": PASSWORD})
    assert r.status_code == 204, r.text
    return str(made["token"])


async def open_from_inbox(person: Visit, *texts: str) -> None:
    """From the inbox, the task whose row holds every one of ``texts``, page after page."""
    page = person.page
    await page.get_by_role("link", name="待办事项").click()
    await page.wait_for_load_state()
    while True:
        rows = page.locator("tbody tr")
        for text in texts:
            rows = rows.filter(has_text=text)
        if await rows.count():
            await rows.first.get_by_role("link", name="处理").click()
            await page.wait_for_load_state()
            return
        following = page.get_by_role("link", name="下一页")
        assert await following.count(), f"no task with {texts} in the inbox"
        await following.first.click()
        await page.wait_for_load_state()


async def approve_from_inbox(person: Visit, claim_id: int, member_no: str) -> dict[str, str | float | bool]:
    """From the inbox to the claim, approved; the form as it was sent (to send it again)."""
    page = person.page
    await open_from_inbox(person, f"会员 {member_no} 的", "给付申请待审核")
    assert page.url.endswith(f"/ui/claims/{claim_id}")
    await expect(page.locator("svg.machine .current")).to_have_attribute("data-state", "under_review")
    await expect(page.locator("dd").filter(has_text="参保完成")).to_be_visible()  # the member's coverage beside it
    await person.shot("claim")
    form = page.locator("form.decision")
    sent = {
        name: await form.locator(f"input[name={name}]").get_attribute("value") or "" for name in ("csrf_token", "step")
    }
    await page.get_by_label("通过").check()
    await page.get_by_role("button", name="提交审核决定").click()
    await page.wait_for_load_state()
    await expect(page.locator(".flash")).to_have_text("已审核通过")
    await person.shot("approved")
    return {**sent, "decision": "approve"}


async def test_a_claim_is_approved_from_each_inbox_and_paid(
    person: Visit,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    demo_users: dict[str, dict[str, str]],
    db: Database,
    tmp_path: Path,
    bank: Bank,
) -> None:
    bank.config = BankConfig(delay_seconds=0.1)
    org, clerk, _, member_no = await claimant(api, tokens, db, tmp_path, bank, seed=6355)
    await with_password(api, tokens, org, "reviewer", f"grassroots-{org.lower()}")
    await with_password(api, tokens, org, "clerk", f"claims-{org.lower()}")
    page = person.page
    # the clerk files the claim with a PDF from the member's page
    await person.sign_in(f"claims-{org.lower()}", PASSWORD)
    await person.go(f"/ui/members/{member_no}", "member")
    await page.get_by_label("给付类别").select_option("accidental_disability")
    await page.get_by_label("事发日期（确诊、意外或身故之日）").fill((TODAY - timedelta(days=10)).isoformat())
    await page.get_by_label("申请说明").fill("意外伤害致全残")
    pdf = tmp_path / "diagnosis.pdf"
    pdf.write_bytes(b"%PDF-1.4 hospital record\n%%EOF\n")
    await page.get_by_label("证明材料（PDF、JPEG 或 PNG，10MB 以内）").set_input_files(str(pdf))
    await page.get_by_role("button", name="提交申请").click()
    await expect(page.locator(".flash")).to_have_text("申请已提交，证明材料已上传")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "under_review")
    await expect(page.get_by_role("link", name="diagnosis.pdf")).to_be_visible()
    await person.shot("applied")
    claim = {"id": int(page.url.split("/ui/claims/")[1].split("?")[0])}
    await person.sign_out()

    await person.sign_in(f"grassroots-{org.lower()}", PASSWORD)
    sent = await approve_from_inbox(person, claim["id"], member_no)
    # the same approval sent again (a second click, a browser that resends): refused as stale
    again = await page.request.post(f"{person.base}/ui/claims/{claim['id']}/review", form=sent)
    assert again.status == 409 and "该事项已被处理" in await again.text()
    after = await call(api, tokens[ADMIN], "GET", f"/claims/{claim['id']}", 200)
    assert [h["action"] for h in after["history"]].count("claim.approve_level") == 1
    await person.sign_out()

    secondary, district = demo_users["reviewer@101-S01"], demo_users["reviewer@101"]
    await person.sign_in(secondary["login"], secondary["password"])
    await approve_from_inbox(person, claim["id"], member_no)
    await person.sign_out()
    # the district returns it for more evidence; the clerk amends, adds a PDF and resubmits
    await person.sign_in(district["login"], district["password"])
    await person.go(f"/ui/claims/{claim['id']}", "to-return")
    await page.get_by_role("radio", name="退回补充材料").check()
    await page.get_by_label("原因（退回或不予给付时必填）").fill("请补充伤残鉴定书")
    await page.get_by_role("button", name="提交审核决定").click()
    await expect(page.locator(".flash")).to_have_text("已退回")
    await person.sign_out()
    await person.sign_in(f"claims-{org.lower()}", PASSWORD)
    await open_from_inbox(person, f"会员 {member_no} 的", "给付申请已退回")
    await expect(page.locator("dd").filter(has_text="请补充伤残鉴定书")).to_be_visible()
    await page.get_by_label("申请说明").fill("意外伤害致全残，补充伤残鉴定书")
    more = tmp_path / "disability.pdf"
    more.write_bytes(b"%PDF-1.4 disability assessment\n%%EOF\n")
    await page.get_by_label("补充证明材料（PDF、JPEG 或 PNG）").set_input_files(str(more))
    await page.get_by_role("button", name="修改并重新提交").click()
    await expect(page.locator(".flash")).to_have_text("已重新提交")
    await expect(page.get_by_role("link", name="disability.pdf")).to_be_visible()
    await person.shot("resubmitted")
    await person.sign_out()
    for who in ("reviewer@101", "center_reviewer@SH"):  # back to the level that returned it, then the center
        await person.sign_in(demo_users[who]["login"], demo_users[who]["password"])
        await approve_from_inbox(person, claim["id"], member_no)
        await person.sign_out()
    deadline = time.monotonic() + 30
    while (view := await call(api, clerk, "GET", f"/claims/{claim['id']}", 200))["status"] != "paid":
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.2)
    await person.sign_in(demo_users["reviewer@101"]["login"], demo_users["reviewer@101"]["password"])
    await person.go(f"/ui/claims/{claim['id']}", "paid")
    await expect(page.locator("svg.machine .current")).to_have_attribute("data-state", "paid")
    await expect(page.locator(".timeline li")).to_have_count(len(view["history"]))


async def test_lockout_csrf_and_deactivation(
    person: Visit, api: httpx.AsyncClient, tokens: dict[str, str], live_api: str
) -> None:
    page = person.page
    token = await with_password(api, tokens, "104-0001", "clerk", "browser-lock")
    await person.go("/", "visitor")
    await expect(page.get_by_role("heading", name="登录业务工作台")).to_be_visible()
    for i in range(5):
        await page.get_by_label("登录名").fill("browser-lock")
        await page.get_by_label("密码").fill(f"wrong-password-{i}")
        await page.get_by_role("button", name="登录").click()
        await page.wait_for_load_state()
    await expect(page.locator(".error")).to_have_attribute("data-code", "account_locked")
    await expect(page.locator(".error")).to_contain_text("15 分钟后再试")
    await person.shot("locked")
    with_right = await page.request.post(live_api + "/ui/sign-in", form={"login": "browser-lock", "password": PASSWORD})
    assert with_right.status == 429  # the right password waits too

    await with_password(api, tokens, "104-0001", "clerk", "browser-csrf")
    await person.sign_in("browser-csrf", PASSWORD)
    await expect(page.get_by_role("heading", name="首页")).to_be_visible()
    forged: Any = await page.request.post(live_api + "/ui/tokens", form={"name": "伪造"})  # the cookie, no token
    assert forged.status == 403 and "CSRF" in await forged.text()
    await person.go("/ui/tokens", "tokens")
    await expect(page.locator("table.list tbody tr")).to_have_count(1)  # only the first token: nothing was made
    await page.get_by_label("新令牌名称").fill("对账脚本")
    await page.get_by_role("button", name="创建令牌").click()
    await expect(page.locator("#new-token")).to_contain_text("uc_")
    await person.shot("token-made")

    login = "browser-csrf"
    r = await api.post(f"/users/{login}/deactivate", headers=auth(tokens[ADMIN]))
    assert r.status_code == 200, r.text
    await page.goto(live_api + "/ui/inbox")
    await expect(page.get_by_role("heading", name="登录业务工作台")).to_be_visible()  # sent to sign in again
    assert "/ui/sign-in" in page.url
    await person.shot("ended")
    assert (await api.get("/me", headers=auth(token))).status_code == 200  # another account, untouched


async def test_an_enrollment_is_confirmed_submitted_returned_resubmitted_approved_and_paid(
    person: Visit,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    demo_users: dict[str, dict[str, str]],
    db: Database,
    tmp_path: Path,
) -> None:
    year = 2065
    await put_year(api, tokens, year, config_around(TODAY))
    org, clerk = await fresh_union(api, tokens, "101")
    nos = await carded_members(api, db, clerk, org, tmp_path, 3, seed=6357)
    with db.connect() as conn:  # one member without social insurance: awaiting the clerk's confirmation
        conn.execute("UPDATE members SET social_insured = false WHERE member_no = %s", (nos[0],))
        conn.commit()
    login = f"clerk-{org.lower()}"
    await with_password(api, tokens, org, "clerk", login)
    e = await call(api, clerk, "POST", f"/orgs/{org}/enrollments", 201, json={"year": year})
    page, url = person.page, f"/ui/enrollments/{e['id']}"

    await person.sign_in(login, PASSWORD)
    await person.go(url, "enrollment")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "draft")
    await page.get_by_role("button", name="确认所选会员").click()  # nobody ticked: refused
    await expect(page.locator(".error")).to_be_visible()
    await page.locator(f'input[name="member_nos"][value="{nos[0]}"]').check()
    await page.get_by_role("button", name="确认所选会员").click()
    await expect(page.locator(".flash")).to_have_text("已确认 1 名会员参保")
    await page.get_by_label("保障类型").select_option("A")
    await page.get_by_role("button", name="提交集中参保").click()
    await expect(page.locator(".flash")).to_have_text("已提交集中参保")
    await person.shot("submitted")
    await person.sign_out()

    district = demo_users["reviewer@101"]
    await person.sign_in(district["login"], district["password"])
    await person.go(url, "to-review")
    await page.get_by_role("radio", name="退回", exact=True).check()
    await page.get_by_role("button", name="提交审核决定").click()
    await expect(page.locator(".error")).to_have_attribute("data-code", "reason_required")  # the reason is missing
    await person.shot("reason-required")
    await page.get_by_role("radio", name="退回", exact=True).check()
    await page.get_by_label("退回原因").fill("人数有误，请核对")
    await page.get_by_role("button", name="提交审核决定").click()
    await expect(page.locator(".flash")).to_have_text("已退回")
    await person.sign_out()

    await person.sign_in(login, PASSWORD)
    await open_from_inbox(person, "集中参保已退回", f"{year}年度")
    await expect(page.locator("dd").filter(has_text="人数有误，请核对")).to_be_visible()
    await page.get_by_role("button", name="提交集中参保").click()
    await expect(page.locator(".flash")).to_have_text("已提交集中参保")
    await person.sign_out()

    await person.sign_in(district["login"], district["password"])
    await open_from_inbox(person, org, "集中参保待审核")
    await page.get_by_role("button", name="提交审核决定").click()
    await expect(page.locator(".flash")).to_have_text("已审核通过")
    share = (await call(api, clerk, "GET", f"/enrollments/{e['id']}", 200))["grassroots_share"]
    await expect(page.get_by_label("收到的基层单位缴费（元）")).to_have_value(share)
    await page.get_by_label("转账凭证号").fill("网页转账单001")
    await page.get_by_role("button", name="登记缴费").click()
    await expect(page.locator(".flash")).to_have_text("缴费已登记")
    await expect(page.locator("svg.machine .current")).to_have_attribute("data-state", "paid")
    await person.shot("paid")
    done = await call(api, clerk, "GET", f"/enrollments/{e['id']}", 200)
    assert (done["status"], done["enrolled"], done["paid"]) == ("paid", 3, share)
    # the district files with the Mutual Aid Center, uploads its voucher; the center approves
    filing_url = f"/ui/districts/101/enrollments/{year}"
    await person.go(filing_url, "filing")
    await page.get_by_role("button", name="提交职保中心").click()
    await expect(page.locator(".flash")).to_have_text("已提交职保中心")
    await expect(page.get_by_role("link", name="区局参保告知书")).to_be_visible()
    voucher = tmp_path / "voucher.pdf"
    voucher.write_bytes(b"%PDF-1.4 voucher of the district\n%%EOF\n")
    await page.get_by_label("缴费凭证（PDF、JPEG 或 PNG）").set_input_files(str(voucher))
    await page.get_by_role("button", name="上传凭证").click()
    await expect(page.locator(".flash")).to_have_text("缴费凭证已上传")
    await person.shot("voucher")
    await person.sign_out()
    center = demo_users["center_reviewer@SH"]
    await person.sign_in(center["login"], center["password"])
    await open_from_inbox(person, "缴费凭证待审核", f"{year}年度集中参保")
    assert page.url.endswith(filing_url)
    await page.get_by_role("button", name="提交审核决定").click()
    await expect(page.locator(".flash")).to_have_text("凭证审核通过，参保完成")
    await person.shot("voucher-approved")
    deadline = time.monotonic() + 30
    while (done := await call(api, clerk, "GET", f"/enrollments/{e['id']}", 200))["status"] != "completed":
        assert time.monotonic() < deadline, done
        await asyncio.sleep(0.2)
    # the round at a glance for the center: the union among the done, behind its bar
    await person.go(f"/ui/rounds/SH/{year}", "round")  # (the home page links the rounds under way)
    done_bar = page.locator('svg.chart a[data-stage="done"]')
    assert int(await done_bar.get_attribute("data-count") or 0) >= 1
    await done_bar.click()
    await expect(page.locator("#done")).to_contain_text(org)
    await person.shot("round")


async def test_an_admin_finds_a_batch_the_bank_refuses_and_retries_it(
    person: Visit,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    demo_users: dict[str, dict[str, str]],
    db: Database,
    bank: Bank,
    members: list[list[str]],
) -> None:
    reset(bank, fail_submissions=10_000)  # the bank answers 500 to every submission
    batch = await submitted_batch(api, tokens["clerk@101-S01-0001"], (await member_nos(db, members))[:2])
    workflow_id = f"card-batch-{batch['id']}"
    view = await retrying(api, tokens[ADMIN], batch["id"])
    assert view["waiting"]["activity"] == "send_batch_to_bank"
    page = person.page
    admin = demo_users["admin@SH"]
    await person.sign_in(admin["login"], admin["password"])
    await page.get_by_role("link", name="流程运维").click()
    await page.wait_for_load_state()
    row = page.locator(f'tr[data-workflow="{workflow_id}"]')
    await expect(row).to_contain_text("send_batch_to_bank")
    await person.shot("failing")
    await row.get_by_role("link", name=workflow_id).click()
    await expect(page.locator("[data-activity]")).to_contain_text("500")  # the admin sees the failure
    await person.shot("workflow")
    reset(bank)  # the bank mended
    await page.get_by_label("操作").select_option("retry")
    await page.get_by_role("button", name="执行修复").click()  # without a reason: the browser keeps the form
    assert await page.evaluate("document.querySelector('#reason').validity.valueMissing") is True
    await expect(page.locator(".flash")).to_have_count(0)
    csrf = await page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    short = await page.request.post(
        f"{person.base}/ui/admin/workflows/{workflow_id}/repairs",
        form={"csrf_token": csrf, "action": "retry", "reason": "x"},
    )
    assert short.status == 422 and 'data-code="reason_required"' in await short.text()  # and the server says why
    await page.get_by_label("原因（记入审计日志）").fill("银行系统已恢复")
    await page.get_by_role("button", name="执行修复").click()
    await expect(page.locator(".flash")).to_contain_text("立即重试失败的步骤")
    await person.shot("retried")
    deadline = time.monotonic() + 60
    while (seen := await call(api, tokens[ADMIN], "GET", f"/card-batches/{batch['id']}", 200))["waiting"] is not None:
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.3)
    detail = await call(api, tokens[ADMIN], "GET", f"/admin/workflows/{workflow_id}", 200)
    assert any(a["action"] == "workflow.retry" and "银行系统已恢复" in a["summary"] for a in detail["audit"])


async def test_a_clerk_imports_fixes_the_rejected_rows_and_sends_a_batch_that_is_issued(
    person: Visit, api: httpx.AsyncClient, tokens: dict[str, str], bank: Bank, tmp_path: Path
) -> None:
    reset(bank)
    org, _ = await fresh_union(api, tokens, "101")
    login = f"cards-{org.lower()}"
    await with_password(api, tokens, org, "clerk", login)
    rows = list(member_rows(5, seed=6358, phone_base=15_600_000_000))
    for row in rows:
        row[HEADERS.index("在职状态")], row[HEADERS.index("退休日期")] = "在职", ""
    rows[0][HEADERS.index("在职状态")], rows[0][HEADERS.index("退休日期")] = "退休", "2020-01-31"  # fails validation
    good_ids = [rows[1][HEADERS.index("证件号码")], rows[2][HEADERS.index("手机号码")]]
    rows[1][HEADERS.index("证件号码")] = "110101199003071234"  # a wrong check character
    rows[2][HEADERS.index("手机号码")] = "12345"
    page = person.page
    await person.sign_in(login, PASSWORD)
    await page.get_by_role("link", name="会员管理").click()
    async with page.expect_download() as template:
        await page.get_by_role("link", name="下载导入模板").click()
    assert (await template.value).suggested_filename.endswith(".xlsx")
    await page.get_by_label("会员文件").set_input_files(str(write_xlsx(tmp_path / "members.xlsx", rows)))
    await page.get_by_role("button", name="上传导入").click()
    await expect(page.locator("[data-status]")).to_have_attribute("data-status", "completed", timeout=30_000)
    await expect(page.locator("#rejected")).to_have_text("2")
    await expect(page.locator("table.list tbody tr")).to_have_count(2)
    await person.shot("rejected-rows")
    async with page.expect_download() as errors:
        await page.get_by_role("link", name="下载有误的行（errors.xlsx）").click()
    saved = tmp_path / "errors.xlsx"
    await (await errors.value).save_as(saved)
    fixed = load_workbook(saved).worksheets[0]
    assert fixed.max_row == 3  # the header and the two rows to fix
    rows[1][HEADERS.index("证件号码")], rows[2][HEADERS.index("手机号码")] = good_ids
    await page.get_by_label("会员文件").set_input_files(str(write_xlsx(tmp_path / "fixed.xlsx", rows[1:3])))
    await page.get_by_role("button", name="上传导入").click()
    await expect(page.locator("[data-status]")).to_have_attribute("data-status", "completed", timeout=30_000)
    await expect(page.locator("#rejected")).to_have_text("0")
    await person.shot("fixed")
    # a correction from a member's page: a bad phone refused with the import's rule, an address saved
    await page.get_by_role("link", name="会员管理").click()
    await page.locator("tbody tr").first.get_by_role("link").click()
    await page.get_by_label("手机号码").fill("12345678901")
    await page.get_by_role("button", name="保存修改").click()
    await expect(page.locator("#phone-error")).to_have_attribute("data-code", "invalid_phone")  # beside its field
    await expect(page.get_by_label("手机号码")).to_have_value("12345678901")  # what was typed comes back
    await page.get_by_label("手机号码").fill("")
    await page.get_by_label("工作单位详细地址").fill("上海市黄浦区人民大道二百号十二楼")
    await page.get_by_role("button", name="保存修改").click()
    await expect(page.locator(".flash")).to_have_text("已保存修改")
    await expect(page.locator("dd").filter(has_text="上海市黄浦区人民大道二百号十二楼")).to_be_visible()
    await person.shot("corrected")

    await page.get_by_role("link", name="办卡批次管理").click()
    await page.get_by_label("开户网点").fill("工行人民广场支行")
    await page.get_by_role("button", name="新建批次").click()
    await page.get_by_role("button", name="加入全部未办卡会员").click()
    await expect(page.locator("table.list tbody tr")).to_have_count(5)
    await page.get_by_role("button", name="系统校验").click()
    await expect(page.locator('tr[data-check="failed"]')).to_have_count(1)
    await person.shot("validated")
    await page.get_by_role("button", name="移除未通过的会员").click()
    await expect(page.locator("table.list tbody tr")).to_have_count(4)
    await page.get_by_role("button", name="系统校验").click()
    await page.get_by_role("button", name="提交银行").click()
    await expect(page.locator(".flash")).to_have_text("已提交银行")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "issued", timeout=30_000)
    await expect(page.locator("table.list tbody td").filter(has_text="已制卡")).to_have_count(4)
    await person.shot("issued")
    # a card lost: reported with a replacement, the bank's new card arrives
    await page.get_by_role("link", name="办卡批次管理").click()
    await page.get_by_role("link", name="卡片信息管理（挂失、补卡）").click()
    first = page.locator("tbody tr[data-card]").first
    card_no = await first.get_attribute("data-card")
    await first.get_by_role("button", name="挂失并补卡").click()
    await expect(page.locator(".flash")).to_have_text("已挂失，已申请补卡")
    lost = page.locator(f'tr[data-card="{card_no}"]')
    deadline = time.monotonic() + 30
    while "新卡" not in (await lost.inner_text()):
        assert time.monotonic() < deadline, await lost.inner_text()
        await asyncio.sleep(0.5)
        await page.reload()
    await person.shot("replaced")


async def test_a_district_opens_an_account_below_it_and_its_user_sets_a_password(
    person: Visit, api: httpx.AsyncClient, tokens: dict[str, str], demo_users: dict[str, dict[str, str]]
) -> None:
    org, _ = await fresh_union(api, tokens, "101")
    page = person.page
    district = demo_users["reviewer@101"]
    await person.sign_in(district["login"], district["password"])
    await page.get_by_role("link", name="账号管理").click()
    await page.get_by_label("单位代码").fill("104-0001")  # another district's union: refused
    await page.get_by_label("姓名").fill("越权账号")
    await page.get_by_role("button", name="开设账号").click()
    await expect(page.locator(".error")).to_have_attribute("data-code", "outside_scope")
    await page.get_by_label("单位代码").fill(org)
    await page.get_by_label("姓名").fill("新经办人")
    await page.get_by_label("登录名（小写字母、数字、. _ -；不填则自动生成）").fill(f"new-{org.lower()}")
    await page.get_by_role("button", name="开设账号").click()
    code = await page.locator("#setup-code").text_content()
    assert code
    await person.shot("account-opened")
    await person.sign_out()
    await page.get_by_role("link", name="用设置码设定新密码").click()
    await page.get_by_label("登录名", exact=True).fill(f"new-{org.lower()}")
    await page.get_by_label("设置码").fill(code)
    await page.get_by_label("新密码（至少 10 个字符，不含登录名）").fill("password123")
    await page.get_by_role("button", name="设定密码").click()
    await expect(page.locator(".error")).to_have_attribute("data-code", "weak_password")  # a common password
    await page.get_by_label("设置码").fill(code)
    await page.get_by_label("新密码（至少 10 个字符，不含登录名）").fill(PASSWORD)
    await page.get_by_role("button", name="设定密码").click()
    await expect(page.locator(".flash")).to_have_text("密码已设定，请登录")
    await person.sign_in(f"new-{org.lower()}", PASSWORD)
    await expect(page.get_by_role("heading", name="首页")).to_be_visible()
    await person.shot("new-user-home")
    await person.sign_out()
    await person.sign_in(district["login"], district["password"])
    await person.go(f"/ui/accounts?org={org}", "accounts")  # the union's accounts (the district has many)
    row = page.locator(f'tr[data-login="new-{org.lower()}"]')
    await expect(row).to_contain_text("正常")
    await row.get_by_role("button", name="停用").click()
    await expect(page.locator(f'tr[data-login="new-{org.lower()}"]')).to_contain_text("已停用")


async def test_a_clerk_registers_every_card_for_the_year(
    person: Visit,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    db: Database,
    tmp_path: Path,
    demo_users: dict[str, dict[str, str]],
) -> None:
    year = 2068
    window = {"start": (TODAY - timedelta(days=1)).isoformat(), "end": (TODAY + timedelta(days=1)).isoformat()}
    await put_year(api, tokens, year, {**config_around(TODAY), "registration_window": window})
    org, clerk = await fresh_union(api, tokens, "101")
    await carded_members(api, db, clerk, org, tmp_path, 3, seed=6361)
    login = f"reg-{org.lower()}"
    await with_password(api, tokens, org, "clerk", login)
    await call(api, tokens[ADMIN], "POST", f"/programme-years/{year}/registration/open", 202)
    deadline = time.monotonic() + 30
    while (await api.get(f"/orgs/{org}/registrations/{year}", headers=auth(clerk))).status_code != 200 or (
        await call(api, clerk, "GET", f"/orgs/{org}/registrations/{year}", 200)
    )["status"] != "open":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    page = person.page
    await person.sign_in(login, PASSWORD)
    await page.get_by_role("link", name="办卡批次管理").click()
    await page.get_by_role("link", name=f"{year}年度").click()
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "open")
    await page.get_by_role("button", name="全部注册").click()
    await expect(page.locator(".flash")).to_have_text("本次注册 3 张卡")
    await expect(page.locator("#registered")).to_have_text("3")
    await person.shot("registered")
    await person.sign_out()
    district = demo_users["reviewer@101"]
    await person.sign_in(district["login"], district["password"])
    await person.go(f"/ui/rounds/101/{year}/registration", "registration-round")
    assert int(await page.locator('svg.chart a[data-stage="all"]').get_attribute("data-count") or 0) >= 1
    await expect(page.locator("#all")).to_contain_text(f"{org}")
    await expect(page.locator("#all")).to_contain_text("已注册 3/3")


async def test_pages_fit_a_phone_and_work_by_keyboard(
    browser: Any,
    live_api: str,
    shots: Path,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    demo_users: dict[str, dict[str, str]],
) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN", is_mobile=True)
    page = await context.new_page()
    person = Visit(page, live_api, shots, "phone")
    await person.go("/", "sign-in")
    # by keyboard alone: the login field has the focus, Tab to the password, Enter submits
    district = demo_users["reviewer@101"]
    await page.keyboard.type(district["login"])
    await page.keyboard.press("Tab")
    await page.keyboard.type(district["password"])
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    await expect(page.get_by_role("heading", name="首页")).to_be_visible()
    for path in ("/", "/ui/inbox", "/ui/orgs/101/members?subtree=1", "/ui/accounts", "/ui/tokens", "/ui/password"):
        await fits_a_phone(person, path)
    await person.sign_out()
    admin = demo_users["admin@SH"]  # the center's and admins' pages
    await put_year(api, tokens, 2094, config_around(TODAY))
    await person.sign_in(admin["login"], admin["password"])
    for path in ("/ui/statistics/2094", "/ui/programme-years", "/ui/programme-years/2094"):
        await fits_a_phone(person, path)
    await context.close()


async def fits_a_phone(person: Visit, path: str) -> None:
    """The page at ``path`` is no wider than the phone and every control has its label."""
    page = person.page
    await person.go(path, path.strip("/").replace("/", "-") or "home")
    assert (await page.evaluate("document.readyState")) == "complete"
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, (path, overflow)  # nothing wider than the phone
    unlabelled = await page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)"""
    )
    assert unlabelled == [], (path, unlabelled)  # every control has its label


async def test_a_district_sets_its_fee_split_inside_the_window(
    person: Visit, api: httpx.AsyncClient, tokens: dict[str, str], demo_users: dict[str, dict[str, str]]
) -> None:
    year = 2069
    await put_year(api, tokens, year, config_around(TODAY))
    page = person.page
    district = demo_users["reviewer@101"]
    await person.sign_in(district["login"], district["password"])
    await person.go(f"/ui/districts/101/fee-split/{year}", "fee-split")
    await page.get_by_label("市总（%）").fill("40")
    await page.get_by_label("区局（%）").fill("40")
    await page.get_by_label("基层（%）").fill("30")
    await page.get_by_role("button", name="保存比例").click()
    await expect(page.locator(".error")).to_have_attribute("data-code", "invalid_split")  # 110 in all
    await expect(page.get_by_label("市总（%）")).to_have_value("40")  # what was entered, kept
    await page.get_by_label("基层（%）").fill("20")
    await page.get_by_role("button", name="保存比例").click()
    await expect(page.locator(".flash")).to_have_text("比例已保存")
    split = await call(api, tokens["reviewer@101"], "GET", f"/districts/101/fee-split/{year}", 200)
    assert (split["city"], split["district"], split["grassroots"]) == ("40.00", "40.00", "20.00")
    await person.shot("split-saved")


async def test_an_admin_adds_a_union_below_a_district(
    person: Visit, api: httpx.AsyncClient, tokens: dict[str, str], demo_users: dict[str, dict[str, str]]
) -> None:
    code = f"104-W{uuid.uuid4().hex[:5]}"
    page = person.page
    admin = demo_users["admin@SH"]
    await person.sign_in(admin["login"], admin["password"])
    await page.get_by_role("link", name="组织与年度").click()
    await page.locator('tr[data-org="104"]').get_by_role("link", name="104").click()
    await page.get_by_label("代码（区局为 3 位数字）").fill(code)
    await page.get_by_label("名称", exact=True).fill("徐汇网页测试工会委员会")
    await page.get_by_label("层级").select_option("grassroots")
    await page.get_by_label("基层工会类型（基层时）").select_option("committee")
    await page.get_by_role("button", name="新建").click()
    await expect(page.locator(".flash")).to_have_text(f"已新建 {code}")
    await expect(page.locator(f'tr[data-org="{code}"]')).to_contain_text("可办卡")
    await person.shot("org-added")
    made = await call(api, tokens[ADMIN], "GET", f"/orgs/{code}", 200)
    assert (made["level"], made["parent_code"]) == ("grassroots", "104")


async def test_chosen_members_form_a_batch_whose_revocation_the_district_approves(
    person: Visit,
    api: httpx.AsyncClient,
    tokens: dict[str, str],
    demo_users: dict[str, dict[str, str]],
    bank: Bank,
    tmp_path: Path,
) -> None:
    reset(bank, hold=True)  # the bank keeps what it receives: the batch stays submitted
    org, clerk = await fresh_union(api, tokens, "101")
    rows = list(member_rows(3, seed=6362, phone_base=15_700_000_000))
    for row in rows:
        row[HEADERS.index("在职状态")], row[HEADERS.index("退休日期")] = "在职", ""
    r = await api.post(
        f"/orgs/{org}/members/imports?wait=true",
        headers=auth(clerk),
        files={"file": ("m.csv", write_csv(tmp_path / "m.csv", rows).read_bytes(), "text/csv")},
    )
    assert r.status_code == 202 and r.json()["accepted"] == 3, r.text
    login = f"revoke-{org.lower()}"
    await with_password(api, tokens, org, "clerk", login)
    page = person.page
    await person.sign_in(login, PASSWORD)
    await page.get_by_role("link", name="办卡批次管理").click()
    await page.get_by_label("开户网点").fill("工行外滩支行")
    await page.get_by_role("button", name="新建批次").click()
    await page.get_by_text("选择未办卡会员加入").click()
    boxes = page.locator('input[name="member_nos"]')
    await expect(boxes).to_have_count(3)
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    await page.get_by_role("button", name="加入所选会员").click()
    await expect(page.locator(".flash")).to_have_text("已加入 2 名会员")
    await expect(page.locator("table.list tbody tr[data-check]")).to_have_count(2)
    await page.get_by_role("button", name="系统校验").click()
    await page.get_by_role("button", name="提交银行").click()
    await expect(page.locator(".flash")).to_have_text("已提交银行")
    await page.get_by_label("申请人姓名").fill("王经办")
    await page.get_by_label("申请人手机号码").fill("13912345678")
    await page.get_by_label("撤销原因").fill("网点选错")
    await page.get_by_role("button", name="申请撤销").click()
    await expect(page.locator(".flash")).to_have_text("已申请撤销，待区局审批")
    url = page.url.split("?")[0]
    await person.shot("revocation-requested")
    await person.sign_out()
    district = demo_users["reviewer@101"]
    await person.sign_in(district["login"], district["password"])
    await open_from_inbox(person, "批次撤销待审批", org)
    assert page.url.split("?")[0] == url
    await expect(page.get_by_text("申请人：王经办（139****5678）")).to_be_visible()  # the phone masked
    await page.get_by_label("意见").fill("同意撤销")
    await page.get_by_role("button", name="提交审批").click()
    await expect(page.locator(".flash")).to_have_text("已同意撤销")
    await expect(page.locator("[data-status]").first).to_have_attribute("data-status", "revoked")
    await person.shot("revoked")
    reset(bank)
