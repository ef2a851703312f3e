"""The enrollment notice letter (告知书) of the union group-insurance programme, as HTML and as PDF.

Both renderings are pure functions of a :class:`Notice`: the same wording (that of the seed
letter), the same small table of members and money per protection type and the same split of
the total between the city federation, the district and the grassroots union. Money is kept in
integer fen throughout and only formatted as yuan here. The PDF uses the built-in CID font
``STSong-Light`` (nothing is embedded) and is rendered with ``invariant=1`` so that the same
notice always gives the same bytes.
"""

from __future__ import annotations

import functools
import html
import io
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.money import yuan

PDF_FONT = "STSong-Light"
TITLE = "参保告知书"
LINE_HEADERS = ("保障类型", "保障名称", "参保人数", "保障费用(元)")
SPLIT_HEADERS = ("市总统一划拨(元)", "区局/各级工会缴费(元)", "基层单位缴费(元)", "参保资金总额(元)")


@dataclass(frozen=True)
class NoticeLine:
    """One protection type's line of the notice."""

    protection_type: str  # code, e.g. "A", "B+"
    type_name: str  # e.g. "A类会员专享基本保障"
    members: int
    total_fen: int  # money is integer fen (1 CNY = 100 fen)


@dataclass(frozen=True)
class Notice:
    """Everything the notice letter shows."""

    addressee: str  # the union's name
    year: int  # coverage year
    plan_name: str
    lines: list[NoticeLine]
    total_fen: int
    city_fen: int  # 市总统一划拨
    district_fen: int  # 区局/各级工会缴费
    grassroots_fen: int  # 基层单位缴费
    payment_deadline: date
    coverage_start: date
    coverage_end: date
    issuer: str
    issued_on: date
    reference: str  # shown small at the bottom


def chinese_date(d: date) -> str:
    """A date in Chinese form: 2023年12月25日."""
    return f"{d.year}年{d.month}月{d.day}日"


def _members_text(lines: list[NoticeLine]) -> str:
    if not lines:
        return "截至今日参保会员共计 0 人"
    parts = [f"{line.protection_type} 类会员共计 {line.members} 人" for line in lines]
    return "截至今日参加 " + "，".join(parts)


def body_text(n: Notice) -> str:
    """The letter's main paragraph, as plain (unescaped) text."""
    end = chinese_date(n.coverage_end)
    return (
        f"你会集中参保{n.plan_name}，{_members_text(n.lines)}，"
        f"参保资金总额为 {yuan(n.total_fen)} 元（市总统一划拨 {yuan(n.city_fen)} 元；"
        f"区局/各级工会缴费 {yuan(n.district_fen)} 元；基层单位缴费 {yuan(n.grassroots_fen)} 元）。"
        f"请于{chinese_date(n.payment_deadline)}之前根据你会所在区、局(产业)工会的安排"
        "将你会需要承担的参保资金划入所属区、局(产业)工会帐户，"
        f"保障日期为{chinese_date(n.coverage_start)}起至{end}止。"
        "逾期未划款则所有参保均无效，需按照即时参保流程另行办理参保手续，"
        f"即时参保的保障日期自办理参保日的次日起至{end}止。"
    )


def line_rows(n: Notice) -> list[tuple[str, str, str, str]]:
    """The rows of the per-type table, with a 合计 row at the end (all as display text)."""
    rows = [(line.protection_type, line.type_name, str(line.members), yuan(line.total_fen)) for line in n.lines]
    rows.append(("合计", "", str(sum(line.members for line in n.lines)), yuan(n.total_fen)))
    return rows


def split_row(n: Notice) -> tuple[str, str, str, str]:
    """The funding split of the total, as display text."""
    return (yuan(n.city_fen), yuan(n.district_fen), yuan(n.grassroots_fen), yuan(n.total_fen))


# --------------------------------------------------------------------------------------- HTML

_CSS = """
@page { size: A4; margin: 25mm 22mm; }
body { font-family: "SimSun", "Songti SC", "STSong", "Noto Serif CJK SC", serif; font-size: 12pt;
       line-height: 1.8; color: #000; max-width: 170mm; margin: 2em auto; }
h1 { text-align: center; font-size: 18pt; letter-spacing: .3em; margin-bottom: 1.5em; }
p.body { text-indent: 2em; text-align: justify; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; font-size: 10.5pt; }
th, td { border: 1px solid #000; padding: 2px 6px; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; }
.signature { text-align: right; margin-top: 3em; }
.reference { font-size: 8pt; color: #666; margin-top: 4em; }
@media print { body { margin: 0; max-width: none; } th { background: none; } }
"""


def _html_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], numeric_from: int, total_last: bool) -> str:
    e = html.escape
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr></thead>", "<tbody>"]
    for i, row in enumerate(rows):
        is_total = total_last and i == len(rows) - 1
        cells = "".join(
            f'<td class="num">{e(cell)}</td>' if j >= numeric_from else f"<td>{e(cell)}</td>"
            for j, cell in enumerate(row)
        )
        out.append(f'<tr class="total">{cells}</tr>' if is_total else f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def notice_html(n: Notice) -> str:
    """The notice as a complete, printable UTF-8 HTML page."""
    e = html.escape
    lines_table = _html_table(LINE_HEADERS, list(line_rows(n)), numeric_from=2, total_last=True)
    split_table = _html_table(SPLIT_HEADERS, [split_row(n)], numeric_from=0, total_last=False)
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{e(TITLE)} — {e(n.addressee)} {n.year}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{e(TITLE)}</h1>
<p class="addressee">{e(n.addressee)}：</p>
<p class="body">{e(body_text(n))}</p>
{lines_table}
{split_table}
<div class="signature">
<div class="issuer">{e(n.issuer)}</div>
<div class="date">{e(chinese_date(n.issued_on))}</div>
</div>
<div class="reference">{e(n.reference)}</div>
</body>
</html>
"""


# ---------------------------------------------------------------------------------------- PDF


@functools.cache
def _register_font() -> str:
    """Register the CID font once per process."""
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=12, leading=21, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=28, alignment=1, spaceAfter=18),
        "plain": base,
        "body": ParagraphStyle("body", parent=base, firstLineIndent=24, spaceBefore=6, spaceAfter=6),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9, textColor=colors.grey),
    }


def _pdf_table(font: str, headers: tuple[str, ...], rows: list[tuple[str, ...]], numeric_from: int) -> Table:
    widths = [28 * mm, 62 * mm, 28 * mm, 42 * mm] if numeric_from else [40 * mm] * len(headers)
    table = Table([list(headers), *[list(row) for row in rows]], colWidths=widths, hAlign="CENTER")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
                ("ALIGN", (0, 0), (-1, 0), "CENTER"),
                ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def notice_pdf(n: Notice) -> bytes:
    """The notice as an A4 PDF; the same notice always renders to the same bytes."""
    font = _register_font()
    st = _styles(font)

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(xml_escape(text), st[style])

    story: list[Flowable] = [
        para(TITLE, "title"),
        para(f"{n.addressee}：", "plain"),
        para(body_text(n), "body"),
        Spacer(1, 6),
        _pdf_table(font, LINE_HEADERS, list(line_rows(n)), numeric_from=2),
        Spacer(1, 8),
        _pdf_table(font, SPLIT_HEADERS, [split_row(n)], numeric_from=0),
        Spacer(1, 36),
        para(n.issuer, "right"),
        para(chinese_date(n.issued_on), "right"),
        Spacer(1, 36),
        para(n.reference, "small"),
    ]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=f"{TITLE} {n.addressee} {n.year}",
        author=n.issuer,
        invariant=1,
    )
    doc.build(story)
    return buf.getvalue()
