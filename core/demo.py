"""The demo organisation tree and users that `unioncard dev` seeds once."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from core.orgs import create_org
from core.users import create_user
from models.org import Organisation, OrgCreate
from models.programme import DateWindow, FeeSplit, ProgrammeYear, ProgrammeYearConfig, ProtectionType
from models.states import GrassrootsType, OrgLevel, Role

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
    ("互助中心审核员", "SH", Role.CENTER_REVIEWER),
    ("黄浦区审核员", "101", Role.REVIEWER),
    ("商业系统审核员", "101-S01", Role.REVIEWER),
    ("建朗经办人", "101-0001", Role.CLERK),
    ("百货经办人", "101-S01-0001", Role.CLERK),
    ("漕河泾经办人", "104-0001", Role.CLERK),
)


def demo_programme_year(today: date) -> tuple[int, ProgrammeYearConfig]:
    """Next year's programme, shaped like the 2024 round of seed 002 but with its windows placed
    around ``today`` so that the tour can be walked at once."""

    def window(start: int, end: int) -> DateWindow:
        return DateWindow(start=today + timedelta(days=start), end=today + timedelta(days=end))

    year = today.year + 1
    return year, ProgrammeYearConfig(
        plan_name=f"{year}年度上海工会会员专享基本保障计划（演示）",
        protection_types=[
            ProtectionType(code="A", name="A类会员专享基本保障", price=Decimal(26)),
            ProtectionType(code="B", name="B类会员专享基本保障", price=Decimal(50)),
            ProtectionType(code="A+", name="A+类会员专享基本保障", price=Decimal(76)),
            ProtectionType(code="B+", name="B+类会员专享基本保障", price=Decimal(100)),
        ],
        default_split=FeeSplit(city=Decimal(50), district=Decimal(30), grassroots=Decimal(20)),
        split_window=window(-1, 6),
        submission_window=window(-1, 30),
        payment_deadline=today + timedelta(days=33),
        district_window=window(0, 40),
        coverage=window(45, 409),
    )


def seed_demo_year(session: Session, today: date) -> None:
    """The demo programme year, once (an admin changes it with PUT /programme-years/{year})."""
    if session.exec(select(ProgrammeYear)).first() is None:
        year, config = demo_programme_year(today)
        session.add(ProgrammeYear(year=year, config=config.model_dump(mode="json")))
        session.commit()


def seed_demo(session: Session, tokens_file: Path) -> list[dict[str, str]]:
    """Create the demo tree and users once; later calls return the saved tokens."""
    if tokens_file.exists() and session.exec(select(Organisation).where(Organisation.code == "SH")).first():
        saved: list[dict[str, str]] = json.loads(tokens_file.read_text(encoding="utf-8"))
        return saved
    for code, name, level, parent, kind in DEMO_ORGS:
        if session.exec(select(Organisation).where(Organisation.code == code)).first() is None:
            create_org(session, OrgCreate(code=code, name=name, level=level, parent_code=parent, grassroots_type=kind))
            session.flush()
    tokens = []
    for name, org, role in DEMO_USERS:
        _, token = create_user(session, name=name, org_code=org, role=role)
        tokens.append({"name": name, "org": org, "role": role.value, "token": token})
    session.commit()
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(json.dumps(tokens, ensure_ascii=False, indent=1), encoding="utf-8")
    os.chmod(tokens_file, 0o600)
    return tokens
