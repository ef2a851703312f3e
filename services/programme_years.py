"""Programme years: their configuration (admins), each district's fee split (its reviewer, inside
the split window) and the extensions of their dates, which reach the running workflows."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.audit import audit_action
from core.auth import Actor, require, require_role
from core.errors import Conflict, Forbidden, Unavailable
from core.programme import get_config
from core.settings import Settings
from models.extension import Extension, ExtensionCreate, ExtensionPublic
from models.programme import DistrictFeeSplit, FeeSplit, ProgrammeYear, ProgrammeYearConfig, ProgrammeYearPublic
from models.states import Role, label
from rules.calendar import end_of, inside
from services.extensions import (
    authorise,
    changed_dates,
    current_date,
    extended_config,
    not_later,
    refuse_dates_in_force,
    running_workflows,
    too_late,
    window_label,
    with_extensions,
    year_in_force,
)
from services.orgs import get_district, require_printable
from workflows.dated_inputs import DateExtension


def put_programme_year(*, session: Session, actor: Actor, year: int, data: ProgrammeYearConfig) -> ProgrammeYearPublic:
    """An admin sets a year's configuration; once a workflow of the year runs with its dates, a
    changed date is refused (409 ``dates_in_force``: extend it instead)."""
    require_role(actor, Role.ADMIN)
    require_printable(data.plan_name, "保障计划名称", "plan_name")
    for i, protection in enumerate(data.protection_types):
        require_printable(protection.name, "保障类型名称", f"protection_types.{i}.name")
    row = session.get(ProgrammeYear, year)
    created = row is None
    if row is not None and year_in_force(session, year):
        changed = changed_dates(ProgrammeYearConfig.model_validate(row.config), data, year)
        if changed:
            raise refuse_dates_in_force(changed, year)
    if row is None:
        row = ProgrammeYear(year=year, config={})
    row.config = data.model_dump(mode="json")
    row.updated_by = actor.user_id
    session.add(row)
    audit_action(
        session,
        actor,
        "programme_year.created" if created else "programme_year.updated",
        ("programme_year", year),
        f"{year}年度：{len(data.protection_types)}种保障类型，缴费截止 {data.payment_deadline}",
        org_id=actor.org_id,
    )
    session.commit()
    session.refresh(row)
    return ProgrammeYearPublic(year=year, config=data, updated_at=row.updated_at)


def moved_config(config: ProgrammeYearConfig, *, old: int, new: int) -> ProgrammeYearConfig:
    """``config`` (of year ``old``) as the starting point of year ``new``: every date of its cycle
    moved by the years between them (29 February to the 28th), the year in the plan's name too;
    prices, split and amounts as they were. Checked like a configuration sent whole."""
    years = new - old

    def moved(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [moved(v) for v in value]
        if isinstance(value, str) and _ISO_DAY.match(value):
            day = date.fromisoformat(value)
            return day.replace(year=day.year + years, day=min(day.day, 28 if day.month == 2 else 31)).isoformat()
        return value

    data = moved(config.model_dump(mode="json"))
    data["plan_name"] = config.plan_name.replace(str(old), str(new))
    return ProgrammeYearConfig.model_validate(data)


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def list_programme_years(*, session: Session, actor: Actor) -> list[ProgrammeYearPublic]:
    """Every configured year, the latest first (anyone signed in)."""
    rows = session.exec(select(ProgrammeYear).order_by(col(ProgrammeYear.year).desc())).all()
    return [
        ProgrammeYearPublic(year=r.year, config=ProgrammeYearConfig.model_validate(r.config), updated_at=r.updated_at)
        for r in rows
    ]


def read_programme_year(*, session: Session, actor: Actor, year: int) -> ProgrammeYearPublic:
    """A year's configuration (anyone signed in); 404 when it is not configured."""
    config = get_config(session, year)
    row = session.get(ProgrammeYear, year)
    assert row is not None
    return ProgrammeYearPublic(year=year, config=config, updated_at=row.updated_at)


def read_fee_split(*, session: Session, actor: Actor, code: str, year: int) -> FeeSplit:
    """The district's split for the year, or the year's default when it has set none."""
    org = get_district(session, code)
    require(actor, org)
    config = get_config(session, year)
    own = session.get(DistrictFeeSplit, (code, year))
    if own is None:
        return config.default_split
    return FeeSplit(city=own.city, district=own.district, grassroots=own.grassroots)


def put_fee_split(
    *, session: Session, actor: Actor, settings: Settings, code: str, year: int, data: FeeSplit
) -> FeeSplit:
    """The district's own reviewer (or an admin) sets its split, only inside the year's split window."""
    org = get_district(session, code)
    require(actor, org, Role.REVIEWER)
    if not actor.is_admin and actor.org_id != org.id:
        raise Forbidden("wrong_level", "比例由区局（产业）工会自己设置")
    config = get_config(session, year)
    if not inside(config.split_window, settings.timezone):
        raise Conflict(
            "outside_window",
            f"参保金额比例只能在 {config.split_window.label()} 设置",
            details={"window": config.split_window.model_dump(mode="json")},
        )
    own = session.get(DistrictFeeSplit, (code, year)) or DistrictFeeSplit(
        district_code=code, year=year, city=data.city, district=data.district, grassroots=data.grassroots
    )
    own.city, own.district, own.grassroots, own.updated_by = data.city, data.district, data.grassroots, actor.user_id
    session.add(own)
    audit_action(
        session,
        actor,
        "fee_split.set",
        ("district", code),
        f"{year}年度比例：市总{data.city}%，区局{data.district}%，基层{data.grassroots}%",
        org_id=org.id,
    )
    session.commit()
    return data


async def create_extension(
    *, session: Session, actor: Actor, temporal: Client, settings: Settings, year: int, data: ExtensionCreate
) -> ExtensionPublic:
    """Extend a date of the year (who may extend what: ``services.extensions.authorise``); the
    running workflows it reaches are told before the record is committed (503 records nothing)."""
    ext, targets, signal = await run_in_threadpool(_extension, session, actor, settings, year, data)
    ext.reached = await signal_extension(temporal, targets, signal)  # before commit: 503 records nothing
    return await run_in_threadpool(_record_extension, session, actor, ext)


def _extension(
    session: Session, actor: Actor, settings: Settings, year: int, data: ExtensionCreate
) -> tuple[Extension, list[str], DateExtension]:
    """The extension's row (flushed, not committed), the running workflows it reaches and what they
    are told (in a worker thread: the event loop never waits for the database)."""
    authorise(session, actor, data)
    config = get_config(session, year)
    scoped = with_extensions(session, config, year, data.district_code) if data.district_code else config
    current = current_date(scoped, year, data.kind)
    if end_of(current, settings.timezone) <= datetime.now(UTC):
        raise too_late(data.kind, current)
    if data.new_date <= current:
        raise not_later(data.kind, current, data.new_date)
    extended = extended_config(scoped, year, data.kind, data.new_date)
    ext = Extension(
        year=year, kind=data.kind, district_code=data.district_code, old_date=current, new_date=data.new_date,
        reason=data.reason, created_by=actor.user_id, created_by_name=actor.name[:60],
    )  # fmt: skip
    session.add(ext)
    if data.district_code is None:  # the year's own date: new workflows and documents start from it
        row = session.get(ProgrammeYear, year)
        assert row is not None
        row.config, row.updated_by = extended.model_dump(mode="json"), actor.user_id
        session.add(row)
    session.flush()
    assert ext.id is not None
    targets = running_workflows(session, year, data.kind, data.district_code, data.new_date)
    signal = DateExtension(
        data.kind.value, end_of(data.new_date, settings.timezone), window_label(extended, year, data.kind), ext.id
    )
    return ext, targets, signal


def _record_extension(session: Session, actor: Actor, ext: Extension) -> ExtensionPublic:
    scope = f"{ext.district_code}区局" if ext.district_code else "全部单位"
    audit_action(
        session,
        actor,
        "programme_year.extended",
        ("programme_year", ext.year),
        f"{ext.year}年度{label(ext.kind)}（{scope}）由 {ext.old_date} 延至 {ext.new_date}：{ext.reason}",
        org_id=actor.org_id,
    )
    session.commit()
    session.refresh(ext)
    return ExtensionPublic.model_validate(ext, from_attributes=True)


def list_extensions(*, session: Session, actor: Actor, year: int) -> list[ExtensionPublic]:
    """Every extension of the year, the latest first (anyone signed in)."""
    get_config(session, year)
    rows = session.exec(select(Extension).where(Extension.year == year).order_by(col(Extension.id).desc())).all()
    return [ExtensionPublic.model_validate(r, from_attributes=True) for r in rows]


async def signal_extension(temporal: Client, workflow_ids: list[str], ext: DateExtension) -> int:
    """Tell each running workflow (20 at a time); one that has ended meanwhile is not counted."""
    limit = asyncio.Semaphore(20)

    async def one(workflow_id: str) -> int:
        async with limit:
            try:
                await temporal.get_workflow_handle(workflow_id).signal("extend", ext, rpc_timeout=timedelta(seconds=10))
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    return 0
                raise Unavailable("temporal_unavailable", "工作流服务暂时不可用，未办理延期，请稍后再试") from None
            return 1

    return sum(await asyncio.gather(*(one(w) for w in workflow_ids)))


class Deadline(BaseModel):
    """A date of a programme year still ahead: what closes, the day, the days left."""

    year: int
    what: str
    day: date
    days_left: int


def upcoming_deadlines(*, session: Session, today: date, within_days: int = 120, limit: int = 5) -> list[Deadline]:
    """The nearest closes of every configured year (windows' last days, payment deadlines), the
    district's extensions not included (they only move a date later)."""
    found: list[Deadline] = []
    for row in session.exec(select(ProgrammeYear)):
        config = ProgrammeYearConfig.model_validate(row.config)
        dates = [
            ("基层提交截止", config.submission_window.end),
            ("缴费截止", config.payment_deadline),
            ("区局提交职保中心截止", config.district_window.end),
            ("年度注册截止", config.registration(row.year).end),
            ("区局比例设置截止", config.split_window.end),
        ]
        for what, day in dates:
            left = (day - today).days
            if 0 <= left <= within_days:
                found.append(Deadline(year=row.year, what=f"{row.year}年度{what}", day=day, days_left=left))
    return sorted(found, key=lambda d: (d.day, d.what))[:limit]
