"""The district's notice letter (seed 002 §4.5): every type of the year with its count, the
total, the coverage, the late-payment rule and the center's account, in HTML and in PDF."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

from documents.district_notice import (
    Account,
    DistrictNotice,
    DistrictNoticeLine,
    district_notice_html,
    district_notice_pdf,
)
from tests.core.test_pdf_font import _fonts, _ink, _render, _text

START, END = date(2024, 1, 1), date(2024, 12, 31)


def seed_notice() -> DistrictNotice:
    """The seed's letter: 2,014 members of type B+ at 100 CNY, none of the others."""
    return DistrictNotice(
        addressee="上海市某区总工会",
        year=2024,
        plan_name="2024年度会员专享基本保障计划",
        lines=[
            DistrictNoticeLine("A", "A类会员专享基本保障", 0, 0, START, END),
            DistrictNoticeLine("B", "B类会员专享基本保障", 0, 0, START, END),
            DistrictNoticeLine("A+", "A+类会员专享基本保障", 0, 0, START, END),
            DistrictNoticeLine("B+", "B+类会员专享基本保障", 2014, 20140000, START, END),
        ],
        city_fen=10070000,
        district_fen=6042000,
        grassroots_fen=4028000,
        account=Account("上海市职工保障互助中心会员专享保障专户", "316023-03002745697", "上海银行人民广场支行"),
        issuer="上海市职工保障互助中心",
        issued_on=date(2023, 12, 27),
    )


def test_html_has_the_seed_letter() -> None:
    page = district_notice_html(seed_notice())
    assert "上海市某区总工会：" in page
    assert (
        "你会集中参保2024年度会员专享基本保障计划，参加A类会员共计0人，参加B类会员共计0人，"
        "参加A+类会员共计0人，参加B+类会员共计2014人，参保资金总额为 201,400.00 元。"
    ) in page
    assert "保障日期为2024年1月1日起至2024年12月31日止。" in page
    assert "逾期未划款，则按照即时参保流程另行办理参保手续，保障日期自办理参保日的次日起至2024年12月31日止。" in page
    assert "户名：上海市职工保障互助中心会员专享保障专户" in page
    assert "帐号：316023-03002745697" in page
    assert "开户行：上海银行人民广场支行" in page
    assert "上海市职工保障互助中心</div>" in page and "2023年12月27日" in page
    assert "盖章处" in page
    assert '<td class="num">2014</td>' in page and '<td class="num">201,400.00</td>' in page
    assert '<td class="num">100,700.00</td>' in page  # the city's part


def test_types_with_their_own_coverage_are_each_dated() -> None:
    half = DistrictNoticeLine("半年", "下半年保障", 3, 3600, date(2014, 1, 1), date(2014, 6, 30))
    full = DistrictNoticeLine("全年", "全年保障", 5, 12000, date(2013, 7, 1), date(2014, 6, 30))
    page = district_notice_html(dataclasses.replace(seed_notice(), lines=[full, half]))
    assert "保障日期：全年类2013年7月1日起至2014年6月30日止；半年类2014年1月1日起至2014年6月30日止。" in page
    assert "参保资金总额为 156.00 元" in page
    assert "次日起至2014年6月30日止" in page


def test_html_escapes_names() -> None:
    page = district_notice_html(dataclasses.replace(seed_notice(), addressee="<script>x</script>区"))
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;区" in page


def test_pdf_embeds_its_font_and_renders(tmp_path: Path) -> None:
    pdf = district_notice_pdf(seed_notice())
    assert pdf == district_notice_pdf(seed_notice())
    text = _text(pdf)
    for expected in ("区局(产业)参保告知书", "316023-03002745697", "上海银行人民广场支行", "201,400.00", "盖章处"):
        assert expected in text
    assert all(f["d"] is not None for f in _fonts(pdf) if f["name"] != "/Helvetica")
    image = _render(pdf, tmp_path / "district-notice.png")
    assert _ink(image, 0.08, 0.12) > 300  # the title
    assert _ink(image, 0.85, 1.0) == 0  # nothing at the foot
