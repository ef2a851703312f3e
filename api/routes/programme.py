"""Programme years (admin) and each district's fee split (its reviewer, inside the split window)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlmodel import col, select

from api.deps import AdminActor, CurrentActor, SessionDep, SettingsDep
from core.audit import audit_action
from core.auth import require
from core.errors import Conflict, Forbidden
from core.orgs import get_district
from core.programme import get_config, inside
from models.inputs import YEAR_MAX, YEAR_MIN
from models.programme import DistrictFeeSplit, FeeSplit, ProgrammeYear, ProgrammeYearConfig, ProgrammeYearPublic
from models.states import Role

router = APIRouter(tags=["programme years"])
Year = Annotated[int, Path(ge=YEAR_MIN, le=YEAR_MAX, description="The coverage year")]


@router.put("/programme-years/{year}")
def put_programme_year(
    year: Year, data: ProgrammeYearConfig, session: SessionDep, actor: AdminActor
) -> ProgrammeYearPublic:
    """Set a coverage year's prices, split, windows, deadline, coverage and claim amounts.
    Workflows already running keep the dates they started with."""
    row = session.get(ProgrammeYear, year)
    created = row is None
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


@router.get("/programme-years")
def list_programme_years(session: SessionDep, actor: CurrentActor) -> list[ProgrammeYearPublic]:
    rows = session.exec(select(ProgrammeYear).order_by(col(ProgrammeYear.year).desc())).all()
    return [
        ProgrammeYearPublic(year=r.year, config=ProgrammeYearConfig.model_validate(r.config), updated_at=r.updated_at)
        for r in rows
    ]


@router.get("/programme-years/{year}")
def read_programme_year(year: Year, session: SessionDep, actor: CurrentActor) -> ProgrammeYearPublic:
    config = get_config(session, year)
    row = session.get(ProgrammeYear, year)
    assert row is not None
    return ProgrammeYearPublic(year=year, config=config, updated_at=row.updated_at)


@router.get("/districts/{code}/fee-split/{year}")
def read_fee_split(code: str, year: Year, session: SessionDep, actor: CurrentActor) -> FeeSplit:
    """The district's split for the year, or the year's default when it has set none."""
    org = get_district(session, code)
    require(actor, org)
    config = get_config(session, year)
    own = session.get(DistrictFeeSplit, (code, year))
    if own is None:
        return config.default_split
    return FeeSplit(city=own.city, district=own.district, grassroots=own.grassroots)


@router.put("/districts/{code}/fee-split/{year}")
def put_fee_split(
    code: str, year: Year, data: FeeSplit, session: SessionDep, actor: CurrentActor, settings: SettingsDep
) -> FeeSplit:
    """A district reviewer sets its district's split, only inside the year's split window."""
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
