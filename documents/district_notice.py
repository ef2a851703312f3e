"""The district's notice letter (区局参保告知书, seed 002 §4.5): what a district gets when it
submits its unions' enrollments to the Mutual Aid Center. Members per protection type (every
type of the year, 0 where none), the total, the coverage dates, the late-payment rule (instant
enrollment) and the center's account to pay into. Rendered like the union's notice, as HTML and
PDF, by documents/notices.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from documents.notices import Letter, LetterTable, chinese_date, letter_html, letter_pdf
from rules.money import yuan

TITLE = "区局(产业)参保告知书"
LINE_HEADERS = ("保障类型", "保障名称", "保障日期", "参保人数", "保障费用(元)")
SPLIT_HEADERS = ("市总统一划拨(元)", "区局/各级工会缴费(元)", "基层单位缴费(元)", "参保资金总额(元)")


@dataclass(frozen=True)
class Account:
    """The Mutual Aid Center's account (户名, 帐号, 开户行)."""

    name: str
    number: str
    bank: str


@dataclass(frozen=True)
class DistrictNoticeLine:
    """One protection type of the year: the district's members in it and their fees."""

    protection_type: str
    type_name: str
    members: int
    total_fen: int
    coverage_start: date
    coverage_end: date


@dataclass(frozen=True)
class DistrictNotice:
    addressee: str  # the district union's name
    year: int
    plan_name: str
    lines: list[DistrictNoticeLine]
    city_fen: int
    district_fen: int
    grassroots_fen: int
    account: Account
    issuer: str  # the Mutual Aid Center
    issued_on: date  # the day the district submitted

    @property
    def members(self) -> int:
        return sum(line.members for line in self.lines)

    @property
    def total_fen(self) -> int:
        return sum(line.total_fen for line in self.lines)


def _period(start: date, end: date) -> str:
    return f"{chinese_date(start)}起至{chinese_date(end)}止"


def _coverage_text(lines: list[DistrictNoticeLine]) -> str:
    periods = {(line.coverage_start, line.coverage_end) for line in lines if line.members} or {
        (line.coverage_start, line.coverage_end) for line in lines
    }
    if len(periods) == 1:
        return f"保障日期为{_period(*periods.pop())}。"
    parts = [f"{line.protection_type}类{_period(line.coverage_start, line.coverage_end)}" for line in lines]
    return "保障日期：" + "；".join(parts) + "。"


def body_text(n: DistrictNotice) -> str:
    """The letter's paragraph, as plain (unescaped) text: the seed's wording."""
    counts = "，".join(f"参加{line.protection_type}类会员共计{line.members}人" for line in n.lines)
    instant_end = max((line.coverage_end for line in n.lines), default=date(n.year, 12, 31))
    return (
        f"你会集中参保{n.plan_name}，{counts}，参保资金总额为 {yuan(n.total_fen)} 元。"
        f"{_coverage_text(n.lines)}"
        "逾期未划款，则按照即时参保流程另行办理参保手续，"
        f"保障日期自办理参保日的次日起至{chinese_date(instant_end)}止。请将参保资金划入以下帐户："
    )


def district_letter(n: DistrictNotice) -> Letter:
    rows: list[tuple[str, ...]] = [
        (
            line.protection_type,
            line.type_name,
            f"{line.coverage_start.isoformat()} 至 {line.coverage_end.isoformat()}",
            str(line.members),
            yuan(line.total_fen),
        )
        for line in n.lines
    ]
    rows.append(("合计", "", "", str(n.members), yuan(n.total_fen)))
    split = (yuan(n.city_fen), yuan(n.district_fen), yuan(n.grassroots_fen), yuan(n.total_fen))
    return Letter(
        title=TITLE,
        addressee=n.addressee,
        body=body_text(n),
        tables=[
            LetterTable(LINE_HEADERS, rows, 3, True, (18, 48, 46, 22, 32)),
            LetterTable(SPLIT_HEADERS, [split], 0, False, (41.5, 41.5, 41.5, 41.5)),
        ],
        issuer=n.issuer,
        issued_on=n.issued_on,
        closing=[f"户名：{n.account.name}", f"帐号：{n.account.number}", f"开户行：{n.account.bank}"],
        document_title=f"{TITLE} {n.addressee} {n.year}",
    )


def district_notice_html(n: DistrictNotice) -> str:
    """The district's notice as a complete, printable UTF-8 HTML page."""
    return letter_html(district_letter(n))


def district_notice_pdf(n: DistrictNotice) -> bytes:
    """The district's notice as an A4 PDF; the same notice always renders to the same bytes."""
    return letter_pdf(district_letter(n))
