"""The enrollment notice (HTML and PDF) and the district's statistics workbook."""

from __future__ import annotations

import dataclasses
import io
from datetime import date, datetime

from openpyxl import load_workbook

from documents.enrollment_sheets import ENROLLMENT_STATUS_LABELS, HEADERS, StatisticsRow, statistics_xlsx
from documents.notices import Notice, NoticeLine, notice_html, notice_pdf
from rules.money import yuan


def seed_notice() -> Notice:
    return Notice(
        addressee="上海建朗科技信息有限公司工会委员会",
        year=2024,
        plan_name="2024年度上海工会会员专享基本保障计划",
        lines=[NoticeLine("A", "A类会员专享基本保障", 95, 247000)],
        total_fen=247000,
        city_fen=123500,
        district_fen=123500,
        grassroots_fen=0,
        payment_deadline=date(2023, 12, 25),
        coverage_start=date(2024, 1, 1),
        coverage_end=date(2024, 12, 31),
        issuer="上海市总工会职工服务中心",
        issued_on=date(2023, 11, 20),
    )


def test_yuan() -> None:
    assert yuan(123456) == "1,234.56"
    assert yuan(0) == "0.00"
    assert yuan(5) == "0.05"
    assert yuan(247000) == "2,470.00"
    assert yuan(-150) == "-1.50"


def test_html_has_the_seed_figures() -> None:
    page = notice_html(seed_notice())
    assert page.startswith("<!doctype html>")
    assert '<meta charset="utf-8">' in page
    assert "@media print" in page
    assert "上海建朗科技信息有限公司工会委员会：" in page
    assert "你会集中参保2024年度上海工会会员专享基本保障计划" in page
    assert "A 类会员共计 95 人" in page
    assert "参保资金总额为 2,470.00 元" in page
    assert "市总统一划拨 1,235.00 元；区局/各级工会缴费 1,235.00 元；基层单位缴费 0.00 元" in page
    assert "请于2023年12月25日之前" in page
    assert "保障日期为2024年1月1日起至2024年12月31日止" in page
    assert "即时参保的保障日期自办理参保日的次日起至2024年12月31日止" in page
    assert "上海市总工会职工服务中心" in page
    assert "2023年11月20日" in page
    assert "<table>" in page
    assert "A类会员专享基本保障" in page


def test_html_lists_every_line() -> None:
    notice = dataclasses.replace(
        seed_notice(),
        lines=[NoticeLine("A", "A类", 95, 247000), NoticeLine("B+", "B+类", 3, 12000)],
        total_fen=259000,
    )
    page = notice_html(notice)
    assert "A 类会员共计 95 人，B+ 类会员共计 3 人" in page
    assert "<td>B+</td>" in page
    assert ">98<" in page  # members in the 合计 row
    assert "2,590.00" in page


def test_html_escapes_a_hostile_addressee() -> None:
    hostile = '<script>alert("x")</script>工会'
    page = notice_html(dataclasses.replace(seed_notice(), addressee=hostile, issuer="<b>中心</b>"))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;工会" in page
    assert "<b>中心</b>" not in page


def test_pdf_is_a_deterministic_cjk_pdf() -> None:
    first = notice_pdf(seed_notice())
    assert first.startswith(b"%PDF")
    assert len(first) > 1500
    assert b"STSong-Light" not in first
    assert notice_pdf(seed_notice()) == first


def test_html_has_the_seal_area_and_no_english() -> None:
    page = notice_html(seed_notice())
    assert '<div class="seal" aria-hidden="true">盖章处</div>' in page
    assert "enrollment" not in page
    assert "/static/fonts/WenQuanYiMicroHei-GBK.ttf" in page  # the served font, not one installed


def test_pdf_survives_markup_in_text() -> None:
    pdf = notice_pdf(dataclasses.replace(seed_notice(), addressee="<script>A & B</script>"))
    assert pdf.startswith(b"%PDF")


def _stat_rows() -> list[StatisticsRow]:
    return [
        StatisticsRow("U001", "甲公司工会", None, "completed", "A", 95, 247000, 123500, 123500, 0, date(2023, 12, 20)),
        StatisticsRow("U002", "乙公司工会", "某二级工会", "paid", "B+", 10, 33333, 11111, 11111, 11111, None),
        StatisticsRow("U003", "丙公司工会", None, "weird_code", "A", 7, 18201, 9100, 9101, 0, None),
    ]


def test_statistics_workbook() -> None:
    wb = load_workbook(io.BytesIO(statistics_xlsx("浦东新区", 2024, _stat_rows())))
    assert wb.sheetnames == ["集中参保统计表", "按保障类型"]
    ws = wb["集中参保统计表"]
    assert ws.cell(1, 1).value == "浦东新区 2024年度集中参保统计表"
    assert tuple(c.value for c in ws[2]) == HEADERS
    assert ws.cell(2, 1).font.bold
    assert ws.freeze_panes == "A3"
    assert [ws.cell(r, 1).value for r in (3, 4, 5, 6)] == ["U001", "U002", "U003", "合计"]
    assert ws.max_row == 6
    assert [ws.cell(r, 4).value for r in (3, 4, 5)] == ["参保完成", "已缴费", "weird_code"]
    assert ws.cell(4, 3).value == "某二级工会"
    assert ws.cell(3, 7).value == 2470.0
    assert ws.cell(3, 7).number_format == "#,##0.00"
    paid = ws.cell(3, 11).value
    assert isinstance(paid, datetime)
    assert paid.date() == date(2023, 12, 20)
    total = [ws.cell(6, c).value for c in range(6, 11)]
    assert total == [112, 2985.34, 1437.11, 1437.12, 111.11]
    assert ws.column_dimensions["B"].width >= 20


def test_statistics_by_type_sheet() -> None:
    ws = load_workbook(io.BytesIO(statistics_xlsx("浦东新区", 2024, _stat_rows())))["按保障类型"]
    data = [tuple(c.value for c in row) for row in ws.iter_rows(min_row=2)]
    assert data == [
        ("保障类型", "单位数", "参保人数", "保障费用(元)"),
        ("A", 2, 102, 2652.01),
        ("B+", 1, 10, 333.33),
        ("合计", 3, 112, 2985.34),
    ]


def test_statistics_empty_and_labels() -> None:
    ws = load_workbook(io.BytesIO(statistics_xlsx("黄浦区", 2025, [])))["集中参保统计表"]
    assert ws.cell(3, 1).value == "合计"
    assert ws.cell(3, 6).value == 0
    assert ENROLLMENT_STATUS_LABELS["failed_unpaid"] == "逾期未缴费"
    assert ENROLLMENT_STATUS_LABELS["filed"] == "已提交职保中心"
    assert len(ENROLLMENT_STATUS_LABELS) == 12
