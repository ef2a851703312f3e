"""The enrollment notice letter (告知书) of the union group-insurance programme, as HTML and as PDF.

Both renderings are pure functions of a :class:`Notice`: the same wording (that of the seed
letter), the same small table of members and money per protection type and the same split of
the total between the city federation, the district and the grassroots union. Money is kept in
integer fen throughout and only formatted as yuan here. Letters of other kinds (the district's,
documents/district_notice.py) are rendered by the same :func:`letter_html` and :func:`letter_pdf`.

The PDF embeds the glyphs it uses from the font shipped in ``documents/fonts`` (TrueType outlines,
Apache-2.0), so it reads the same on a machine without any Chinese font; it is rendered with
``invariant=1`` so that the same letter always gives the same bytes. The seal area (盖章处) is
drawn over the issuer's name and date, where the stamp goes.
"""

from __future__ import annotations

import functools
import html
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from rules.money import yuan

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILE = FONT_DIR / "WenQuanYiMicroHei-GBK.ttf"
FONT_URL = "/static/fonts/WenQuanYiMicroHei-GBK.ttf"  # served by the API for the HTML documents
PDF_FONT = "WenQuanYiMicroHei"
SEAL_LABEL = "盖章处"
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
    coverage_start: date | None = None  # the type's own coverage, when types follow each member's card
    coverage_end: date | None = None


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


def chinese_date(d: date) -> str:
    """A date in Chinese form: 2023年12月25日."""
    return f"{d.year}年{d.month}月{d.day}日"


def _members_text(lines: list[NoticeLine]) -> str:
    if not lines:
        return "截至今日参保会员共计 0 人"
    parts = [f"{line.protection_type} 类会员共计 {line.members} 人" for line in lines]
    return "截至今日参加 " + "，".join(parts)


def _coverage_text(n: Notice) -> str:
    """One coverage for the letter, or each type's own when they differ (the 2014 rules)."""
    own = [line for line in n.lines if line.members and line.coverage_start and line.coverage_end]
    if len({(line.coverage_start, line.coverage_end) for line in own}) > 1:
        parts = [
            f"{line.protection_type} 类{chinese_date(line.coverage_start)}起至{chinese_date(line.coverage_end)}止"
            for line in own
            if line.coverage_start and line.coverage_end
        ]
        return "保障日期：" + "；".join(parts) + "。"
    return f"保障日期为{chinese_date(n.coverage_start)}起至{chinese_date(n.coverage_end)}止。"


def body_text(n: Notice) -> str:
    """The letter's main paragraph, as plain (unescaped) text."""
    end = chinese_date(n.coverage_end)
    return (
        f"你会集中参保{n.plan_name}，{_members_text(n.lines)}，"
        f"参保资金总额为 {yuan(n.total_fen)} 元（市总统一划拨 {yuan(n.city_fen)} 元；"
        f"区局/各级工会缴费 {yuan(n.district_fen)} 元；基层单位缴费 {yuan(n.grassroots_fen)} 元）。"
        f"请于{chinese_date(n.payment_deadline)}之前根据你会所在区、局(产业)工会的安排"
        "将你会需要承担的参保资金划入所属区、局(产业)工会帐户，"
        f"{_coverage_text(n)}"
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


@dataclass(frozen=True)
class LetterTable:
    """A table of a letter: its header, its rows (display text), the first right-aligned column."""

    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    numeric_from: int
    total_last: bool  # the last row is a 合计 row
    widths_mm: tuple[float, ...]


@dataclass(frozen=True)
class Letter:
    """A printable letter: title, addressee, the body, tables, closing lines, issuer and date."""

    title: str
    addressee: str
    body: str
    tables: list[LetterTable]
    issuer: str
    issued_on: date
    closing: list[str] = field(default_factory=list)  # lines after the tables (an account to pay into)
    document_title: str = ""


def union_letter(n: Notice) -> Letter:
    """The grassroots union's notice as a letter."""
    return Letter(
        title=TITLE,
        addressee=n.addressee,
        body=body_text(n),
        tables=[
            LetterTable(LINE_HEADERS, list(line_rows(n)), 2, True, (28, 62, 28, 42)),
            LetterTable(SPLIT_HEADERS, [split_row(n)], 0, False, (40, 40, 40, 40)),
        ],
        issuer=n.issuer,
        issued_on=n.issued_on,
        document_title=f"{TITLE} {n.addressee} {n.year}",
    )


def notice_html(n: Notice) -> str:
    """The notice as a complete, printable UTF-8 HTML page."""
    return letter_html(union_letter(n))


def notice_pdf(n: Notice) -> bytes:
    """The notice as an A4 PDF; the same notice always renders to the same bytes."""
    return letter_pdf(union_letter(n))


# --------------------------------------------------------------------------------------- HTML

_FONT_FACE = '@font-face { font-family: "UnioncardSans"; src: url("' + FONT_URL + '") format("truetype"); }'
_CSS = """
@page { size: A4; margin: 25mm 22mm; }
body { font-family: "UnioncardSans", "WenQuanYi Micro Hei", "SimSun", "Songti SC", "Noto Sans CJK SC", sans-serif;
       font-size: 12pt; line-height: 1.8; color: #000; max-width: 170mm; margin: 2em auto; }
h1 { text-align: center; font-size: 18pt; letter-spacing: .3em; margin-bottom: 1.5em; }
p.body { text-indent: 2em; text-align: justify; }
p.closing { margin: 0 0 0 2em; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; font-size: 10.5pt; }
th, td { border: 1px solid #000; padding: 2px 6px; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; }
.signature { position: relative; margin: 2em 0 0 auto; width: 64mm; height: 52mm; text-align: center; }
.signature .issuer { padding-top: 16mm; }
.seal { position: absolute; left: 50%; top: 2mm; width: 48mm; height: 48mm; margin-left: -24mm;
        border: 1px dashed #888; border-radius: 50%; box-sizing: border-box; color: #888; font-size: 8pt;
        display: flex; align-items: flex-end; justify-content: center; padding-bottom: 3mm; }
@media print { body { margin: 0; max-width: none; } th { background: none; } }
"""


def _html_table(t: LetterTable) -> str:
    e = html.escape
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in t.headers) + "</tr></thead>", "<tbody>"]
    for i, row in enumerate(t.rows):
        is_total = t.total_last and i == len(t.rows) - 1
        cells = "".join(
            f'<td class="num">{e(cell)}</td>' if j >= t.numeric_from else f"<td>{e(cell)}</td>"
            for j, cell in enumerate(row)
        )
        out.append(f'<tr class="total">{cells}</tr>' if is_total else f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def letter_html(letter: Letter) -> str:
    """A letter as a complete, printable UTF-8 HTML page."""
    e = html.escape
    tables = "\n".join(_html_table(t) for t in letter.tables)
    closing = "\n".join(f'<p class="closing">{e(line)}</p>' for line in letter.closing)
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{e(letter.document_title or letter.title)}</title>
<style>{_FONT_FACE}{_CSS}</style>
</head>
<body>
<h1>{e(letter.title)}</h1>
<p class="addressee">{e(letter.addressee)}：</p>
<p class="body">{e(letter.body)}</p>
{tables}
{closing}
<div class="signature">
<div class="seal" aria-hidden="true">{e(SEAL_LABEL)}</div>
<div class="issuer">{e(letter.issuer)}</div>
<div class="date">{e(chinese_date(letter.issued_on))}</div>
</div>
</body>
</html>
"""


# ---------------------------------------------------------------------------------------- PDF


@functools.cache
def _register_font() -> str:
    """Register the shipped TrueType font once per process (its used glyphs are embedded in each PDF)."""
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONT, str(FONT_FILE)))
    return PDF_FONT


def unprintable(text: str) -> str:
    """The characters of ``text`` the documents' font does not draw (each once, in order): such a
    name would print as a blank in every PDF. Whitespace and control characters are not asked."""
    _register_font()
    drawn = pdfmetrics.getFont(PDF_FONT).face.charToGlyph
    return "".join(dict.fromkeys(c for c in text if c.isprintable() and not c.isspace() and ord(c) not in drawn))

def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=12, leading=21, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=28, alignment=1, spaceAfter=18),
        "plain": base,
        "body": ParagraphStyle("body", parent=base, firstLineIndent=24, spaceBefore=6, spaceAfter=6),
        "closing": ParagraphStyle("closing", parent=base, leftIndent=24),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    }


def _pdf_table(font: str, t: LetterTable) -> Table:
    table = Table(
        [list(t.headers), *[list(row) for row in t.rows]], colWidths=[w * mm for w in t.widths_mm], hAlign="CENTER"
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
                ("ALIGN", (0, 0), (-1, 0), "CENTER"),
                ("ALIGN", (t.numeric_from, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


class SealedSignature(Flowable):  # type: ignore[misc]  # reportlab has no types
    """The issuer's name and the date at the right, under a dashed circle marked 盖章处."""

    RADIUS = 21 * mm  # an official seal is 42 mm across; wider for a long name

    def __init__(self, font: str, issuer: str, issued_on: str) -> None:
        super().__init__()
        self.font, self.issuer, self.issued_on = font, issuer, issued_on
        text_width = max(pdfmetrics.stringWidth(s, font, 12) for s in (issuer, issued_on))
        self.radius = max(self.RADIUS, text_width / 2 + 2 * mm)

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width, self.height = available_width, 2 * self.radius + 4 * mm
        return self.width, self.height

    def draw(self) -> None:
        c, r = self.canv, self.radius
        cx, cy = self.width - r - 2 * mm, self.height / 2
        c.saveState()
        c.setStrokeColor(colors.grey)
        c.setLineWidth(0.6)
        c.setDash(3, 2)
        c.circle(cx, cy, r)
        c.setFillColor(colors.grey)
        c.setFont(self.font, 8)
        c.drawCentredString(cx, cy - r + 3 * mm, SEAL_LABEL)
        c.restoreState()
        c.setFont(self.font, 12)
        c.drawCentredString(cx, cy + 2 * mm, self.issuer)
        c.drawCentredString(cx, cy - 5 * mm, self.issued_on)


def letter_pdf(letter: Letter) -> bytes:
    """A letter as an A4 PDF; the same letter always renders to the same bytes."""
    font = _register_font()
    st = _styles(font)

    def para(text: str, style: str) -> Paragraph:
        return Paragraph(xml_escape(text), st[style])

    story: list[Flowable] = [para(letter.title, "title"), para(f"{letter.addressee}：", "plain")]
    story.append(para(letter.body, "body"))
    for t in letter.tables:
        story += [Spacer(1, 6), _pdf_table(font, t)]
    story.append(Spacer(1, 8))
    story += [para(line, "closing") for line in letter.closing]
    story += [Spacer(1, 18), SealedSignature(font, letter.issuer, chinese_date(letter.issued_on))]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=letter.document_title or letter.title,
        author=letter.issuer,
        invariant=1,
    )
    doc.build(story)
    return buf.getvalue()
