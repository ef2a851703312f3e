"""The demo organisation tree and users that `unioncard dev` seeds once."""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, col, select

from core.auth import hash_token
from core.passwords import hash_password
from models.account import ApiToken
from models.base import utcnow
from models.org import Organisation, OrgCreate
from models.programme import DateWindow, FeeSplit, ProgrammeYear, ProgrammeYearConfig, ProtectionType
from models.states import GrassrootsType, OrgLevel, Role
from models.user import User
from services.accounts import create_user
from services.extensions import year_in_force
from services.orgs import create_org

DEMO_ORGS: tuple[tuple[str, str, OrgLevel, str | None, GrassrootsType | None], ...] = (
    ("SH", "上海市总工会", OrgLevel.CITY, None, None),
    ("101", "黄浦区总工会", OrgLevel.DISTRICT, "SH", None),
    ("104", "徐汇区总工会", OrgLevel.DISTRICT, "SH", None),
    ("101-S01", "黄浦区商业系统工会", OrgLevel.SECONDARY, "101", None),
    ("101-0001", "上海建朗科技信息有限公司工会委员会", OrgLevel.GRASSROOTS, "101", GrassrootsType.COMMITTEE),
    ("101-S01-0001", "黄浦百货有限公司工会委员会", OrgLevel.GRASSROOTS, "101-S01", GrassrootsType.COMMITTEE),
    ("104-0001", "徐汇区漕河泾联合工会", OrgLevel.GRASSROOTS, "104", GrassrootsType.JOINT),
    ("104-0002", "徐汇区餐饮行业工会联合会", OrgLevel.GRASSROOTS, "104", GrassrootsType.FEDERATION),
)
DEMO_USERS: tuple[tuple[str, str, Role], ...] = (
    ("运维管理员", "SH", Role.ADMIN),
    ("职保中心审核员", "SH", Role.CENTER_REVIEWER),
    ("黄浦区审核员", "101", Role.REVIEWER),
    ("商业系统审核员", "101-S01", Role.REVIEWER),
    ("建朗经办人", "101-0001", Role.CLERK),
    ("百货经办人", "101-S01-0001", Role.CLERK),
    ("漕河泾经办人", "104-0001", Role.CLERK),
    # A second person of the clerk's union: the grassroots level of a claim is decided by a user of
    # the member's union other than the applicant.
    ("建朗工会审核人", "101-0001", Role.REVIEWER),
)
# The shell variable of each demo user's token (`eval "$(unioncard demo-tokens)"`), by role and union.
DEMO_VARIABLES: dict[tuple[str, str], str] = {
    ("admin", "SH"): "ADMIN",
    ("center_reviewer", "SH"): "CENTER",
    ("reviewer", "101"): "REVIEWER",
    ("reviewer", "101-S01"): "SECONDARY",
    ("clerk", "101-0001"): "CLERK",
    ("clerk", "101-S01-0001"): "CLERK_S01",
    ("clerk", "104-0001"): "CLERK_104",
    ("reviewer", "101-0001"): "UNION_REVIEWER",
}
DEMO_MARK = "（演示）"  # ends the plan name of a demo year, whose windows the seeder keeps around today
HISTORY_MARK = "（演示·往年）"  # ends the plan name of the round before it (the seeded history's)


def _around(today: date, start: int, end: int) -> DateWindow:
    return DateWindow(start=today + timedelta(days=start), end=today + timedelta(days=end))


def _types() -> list[ProtectionType]:
    return [
        ProtectionType(code="A", name="A类会员专享基本保障", price=Decimal(26)),
        ProtectionType(code="B", name="B类会员专享基本保障", price=Decimal(50)),
        ProtectionType(code="A+", name="A+类会员专享基本保障", price=Decimal(76)),
        ProtectionType(code="B+", name="B+类会员专享基本保障", price=Decimal(100)),
    ]


def demo_config(year: int, today: date) -> ProgrammeYearConfig:
    """The demo year, shaped like the 2024 round of seed 002 but with every window open on
    ``today`` (registration, split, submission, district), the payment deadline ahead and the
    coverage starting after the district window, so that the tour can be walked at once."""
    return ProgrammeYearConfig(
        plan_name=f"{year}年度上海工会会员专享基本保障计划{DEMO_MARK}",
        protection_types=_types(),
        default_split=FeeSplit(city=Decimal(50), district=Decimal(30), grassroots=Decimal(20)),
        split_window=_around(today, -1, 6),
        submission_window=_around(today, -1, 30),
        payment_deadline=today + timedelta(days=33),
        district_window=_around(today, -1, 40),
        coverage=_around(today, 45, 409),
        registration_window=_around(today, -1, 30),
    )


def demo_programme_year(today: date) -> tuple[int, ProgrammeYearConfig]:
    """Next year's programme with its windows around ``today``."""
    year = today.year + 1
    return year, demo_config(year, today)


def history_config(year: int, today: date) -> ProgrammeYearConfig:
    """The round before the demo year: every window closed, its coverage running until the demo
    year's starts (the covered member of cli.demo_history is covered by it today)."""
    return ProgrammeYearConfig(
        plan_name=f"{year}年度上海工会会员专享基本保障计划{HISTORY_MARK}",
        protection_types=_types(),
        default_split=FeeSplit(city=Decimal(50), district=Decimal(30), grassroots=Decimal(20)),
        split_window=_around(today, -100, -95),
        submission_window=_around(today, -100, -70),
        payment_deadline=today - timedelta(days=70),
        district_window=_around(today, -95, -65),
        coverage=_around(today, -60, 44),
        registration_window=_around(today, -60, -31),
    )


def open_on(config: ProgrammeYearConfig, year: int, today: date) -> bool:
    """Is every step of the tour possible on ``today`` in this year?"""
    windows = (config.split_window, config.submission_window, config.district_window, config.registration(year))
    return all(w.start <= today <= w.end for w in windows) and config.payment_deadline >= today


def _write(session: Session, year: int, config: ProgrammeYearConfig) -> None:
    row = session.get(ProgrammeYear, year) or ProgrammeYear(year=year, config={})
    row.config = config.model_dump(mode="json")
    row.updated_at = utcnow()
    session.add(row)


def _demo_years(years: dict[int, ProgrammeYear], mark: str) -> list[ProgrammeYear]:
    """The years the seeder wrote, by the mark on their plan name (an admin may still have
    changed them since: then ``updated_by`` names the admin)."""
    return [r for _, r in sorted(years.items()) if str(r.config.get("plan_name", "")).endswith(mark)]


def seed_demo_year(session: Session, today: date) -> tuple[int, int] | None:
    """A demo year whose windows are open on ``today``, on every start; answers (demo year,
    history year), or None when an admin replaced the demo years by their own.

    The first start writes next year's programme and the round before it. A later start keeps the
    demo year when it is still open today; else rewrites its dates when none of its workflows has
    started (nothing runs with them yet); else adds the next year with today's windows (running
    workflows keep the dates they started with). The history year's dates follow today: only the
    seeded history (cli.demo_history) runs on them."""
    years = {r.year: r for r in session.exec(select(ProgrammeYear)).all()}
    demo, history = _demo_years(years, DEMO_MARK), _demo_years(years, HISTORY_MARK)
    if years and not demo:
        return None
    if not demo:
        year = write = today.year + 1
    else:
        latest = demo[-1]
        year, write = latest.year, 0
        if not open_on(ProgrammeYearConfig.model_validate(latest.config), year, today):
            untouched = latest.updated_by is None and not year_in_force(session, year)
            year = write = year if untouched else max(years) + 1
    if write:
        _write(session, write, demo_config(write, today))
    past = history[-1].year if history else (year - 1 if year - 1 not in years else min(years) - 1)
    if not history or history[-1].updated_by is None:
        _write(session, past, history_config(past, today))
    session.commit()
    return year, past


def token_variables(tokens: list[dict[str, str]]) -> list[str]:
    """``export NAME=token`` lines for the demo users' tokens, named by DEMO_VARIABLES."""
    lines = []
    for t in tokens:
        name = DEMO_VARIABLES.get((t["role"], t["org"]))
        if name is not None:
            lines.append(f"export {name}={t['token']}")
    return lines


def demo_password(session: Session, token: str) -> tuple[str, str]:
    """Give the demo user of ``token`` a password of its own (printed by ``make run``): its login
    and the password."""
    user = session.exec(
        select(User)
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .where(ApiToken.token_hash == hash_token(token))
    ).one()
    password = f"Demo-{secrets.token_urlsafe(9)}"
    user.password_hash, user.password_changed_at = hash_password(password), datetime.now(UTC)
    return user.login, password


def seed_demo(session: Session, tokens_file: Path) -> list[dict[str, str]]:
    """Create the demo tree and users once; later calls return the saved tokens, with a token
    for each demo user added to DEMO_USERS since. Every entry names the user's login and a
    password set for the demo (an older file without them is completed and rewritten)."""
    tokens: list[dict[str, str]] = []
    if tokens_file.exists() and session.exec(select(Organisation).where(Organisation.code == "SH")).first():
        tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    else:
        for code, name, level, parent, kind in DEMO_ORGS:
            if session.exec(select(Organisation).where(Organisation.code == code)).first() is None:
                data = OrgCreate(code=code, name=name, level=level, parent_code=parent, grassroots_type=kind)
                create_org(session, data)
                session.flush()
    have = {(t["name"], t["org"], t["role"]) for t in tokens}
    missing = [(name, org, role) for name, org, role in DEMO_USERS if (name, org, role.value) not in have]
    unsigned = [t for t in tokens if not t.get("login") or not t.get("password")]
    if not missing and not unsigned:
        return tokens
    for name, org, role in missing:
        _, token = create_user(session, name=name, org_code=org, role=role)
        tokens.append({"name": name, "org": org, "role": role.value, "token": token})
    for entry in tokens:
        if not entry.get("login") or not entry.get("password"):
            entry["login"], entry["password"] = demo_password(session, entry["token"])
    session.commit()
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(json.dumps(tokens, ensure_ascii=False, indent=1), encoding="utf-8")
    os.chmod(tokens_file, 0o600)
    return tokens
