"""Extensions (延期) of a programme year's dates: who may make one, the date it extends, the
configuration a district's workflows start with, and the running workflows it reaches.

A year-wide extension moves the year's configuration itself (new workflows, notices and views
take it from there); a district's extension is its own record, applied on top of the year's
configuration for that district's enrollments and filing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from core.auth import Actor
from core.errors import Conflict, Forbidden, Invalid
from models.card_lifecycle import Registration
from models.enrollment import DistrictFiling, Enrollment
from models.extension import Extension, ExtensionCreate
from models.programme import DateWindow, ProgrammeYearConfig
from models.states import (
    DistrictFilingStatus,
    EnrollmentKind,
    EnrollmentStatus,
    ExtensionKind,
    RegistrationStatus,
    Role,
    label,
)
from services.orgs import get_district

K = ExtensionKind
DISTRICT_SCOPED = (K.PAYMENT_DEADLINE, K.DISTRICT_WINDOW)


def authorise(session: Session, actor: Actor, data: ExtensionCreate) -> None:
    """A district reviewer extends its own district's payment deadline; the Mutual Aid Center or an
    admin extends anything; the submission and registration windows are the whole year's."""
    if data.district_code is not None and data.kind not in DISTRICT_SCOPED:
        raise Invalid(
            "extension_scope",
            f"{label(data.kind)}是全年度统一的，延期时不能指定区局",
            details={"kind": data.kind.value},
        )
    if actor.is_admin or actor.role is Role.CENTER_REVIEWER:
        if data.district_code is not None:
            get_district(session, data.district_code)  # 404 / 409 for a code that is not a district's
        return
    if actor.role is Role.REVIEWER and data.kind is K.PAYMENT_DEADLINE and data.district_code is not None:
        district = get_district(session, data.district_code)
        if district.id == actor.org_id:
            return
    raise Forbidden(
        "extension_not_allowed",
        "区局（产业）工会审核人只能延长本区局所属单位的缴费截止日；其他日期由职工保障互助中心或管理员延期",
        details={"kind": data.kind.value},
    )


def _extended(session: Session, year: int, kind: ExtensionKind, district_code: str) -> date | None:
    rows = session.exec(
        select(Extension).where(
            Extension.year == year, Extension.kind == kind, col(Extension.district_code) == district_code
        )
    ).all()
    return max((r.new_date for r in rows), default=None)


def with_extensions(
    session: Session, config: ProgrammeYearConfig, year: int, district_code: str
) -> ProgrammeYearConfig:
    """The year's configuration as a district's workflows see it: its own extensions applied."""
    due = _extended(session, year, K.PAYMENT_DEADLINE, district_code)
    closes = _extended(session, year, K.DISTRICT_WINDOW, district_code)
    update: dict[str, Any] = {}
    if due is not None and due > config.payment_deadline:
        update["payment_deadline"] = due
    if closes is not None and closes > config.district_window.end:
        update["district_window"] = config.district_window.model_copy(update={"end": closes})
    return config.model_copy(update=update) if update else config


def current_date(config: ProgrammeYearConfig, year: int, kind: ExtensionKind) -> date:
    """The last day ``kind`` has now in ``config``."""
    return {
        K.PAYMENT_DEADLINE: config.payment_deadline,
        K.DISTRICT_WINDOW: config.district_window.end,
        K.SUBMISSION_WINDOW: config.submission_window.end,
        K.REGISTRATION_WINDOW: config.registration(year).end,
    }[kind]


def extended_config(config: ProgrammeYearConfig, year: int, kind: ExtensionKind, new: date) -> ProgrammeYearConfig:
    """``config`` with ``kind`` ending on ``new``, checked like a configuration sent whole (a payment
    deadline past the district window, say, is refused)."""
    data = config.model_dump(mode="json")
    if kind is K.PAYMENT_DEADLINE:
        data["payment_deadline"] = new.isoformat()
    elif kind is K.REGISTRATION_WINDOW:
        data["registration_window"] = {"start": config.registration(year).start.isoformat(), "end": new.isoformat()}
    else:
        data[kind.value] = {**data[kind.value], "end": new.isoformat()}
    try:
        return ProgrammeYearConfig.model_validate(data)
    except ValidationError as exc:
        reasons = "；".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in exc.errors())
        raise Invalid("extension_inconsistent", f"延期后本年度的日期互相矛盾：{reasons}") from None


def window_label(config: ProgrammeYearConfig, year: int, kind: ExtensionKind) -> str:
    """How the extended date reads in a workflow's refusals: the day, or the whole window."""
    if kind is K.PAYMENT_DEADLINE:
        return config.payment_deadline.isoformat()
    window: DateWindow = {
        K.DISTRICT_WINDOW: config.district_window,
        K.SUBMISSION_WINDOW: config.submission_window,
        K.REGISTRATION_WINDOW: config.registration(year),
    }[kind]
    return window.label() if kind is not K.REGISTRATION_WINDOW else window.end.isoformat()


def changed_dates(old: ProgrammeYearConfig, new: ProgrammeYearConfig, year: int) -> list[str]:
    """The fields of the year's dates that ``new`` changes."""
    fields = ["split_window", "submission_window", "payment_deadline", "district_window", "coverage"]
    changed = [f for f in fields if getattr(old, f) != getattr(new, f)]
    if old.registration(year) != new.registration(year):
        changed.append("registration_window")
    return changed


def refuse_dates_in_force(changed: list[str], year: int) -> Conflict:
    return Conflict(
        "dates_in_force",
        f"{year}年度的流程已按现有日期运行，日期不能直接修改；如需延长期限，请办理延期"
        f"（POST /programme-years/{year}/extensions）",
        details={"fields": changed},
    )


def too_late(kind: ExtensionKind, current: date) -> Conflict:
    return Conflict(
        "extension_too_late",
        f"{label(kind)} {current} 已过，不能再延期（到期的流程已按期结束）",
        details={"kind": kind.value, "current": current.isoformat()},
    )


def not_later(kind: ExtensionKind, current: date, new: date) -> Conflict:
    return Conflict(
        "extension_not_later",
        f"延期后的{label(kind)}须晚于当前的 {current}（所填为 {new}）",
        details={"kind": kind.value, "current": current.isoformat()},
    )


ENDED = (
    EnrollmentStatus.COMPLETED,
    EnrollmentStatus.EXPIRED,
    EnrollmentStatus.FAILED_UNPAID,
    EnrollmentStatus.CANCELLED,
)


def year_in_force(session: Session, year: int) -> bool:
    """Has any workflow of the year started with its dates (an enrollment, a filing, a registration)?"""
    return any(
        session.exec(select(table.id).where(table.year == year).limit(1)).first() is not None
        for table in (Enrollment, DistrictFiling, Registration)
    )


def running_workflows(
    session: Session, year: int, kind: ExtensionKind, district_code: str | None, new: date
) -> list[str]:
    """The workflows the extension reaches; registrations not closed get the new close on their row."""
    if kind in (K.PAYMENT_DEADLINE, K.SUBMISSION_WINDOW):
        enrollments = select(Enrollment.workflow_id).where(
            Enrollment.year == year, Enrollment.kind == EnrollmentKind.REGULAR, col(Enrollment.status).not_in(ENDED)
        )
        if district_code is not None:
            enrollments = enrollments.where(Enrollment.district_code == district_code)
        return list(session.exec(enrollments).all())
    if kind is K.DISTRICT_WINDOW:
        filings = select(DistrictFiling.workflow_id).where(
            DistrictFiling.year == year, DistrictFiling.status == DistrictFilingStatus.OPEN
        )
        if district_code is not None:
            filings = filings.where(DistrictFiling.district_code == district_code)
        return list(session.exec(filings).all())
    open_rows = session.exec(
        select(Registration).where(Registration.year == year, Registration.status != RegistrationStatus.CLOSED)
    ).all()
    for row in open_rows:
        row.closes_on = max(row.closes_on, new.isoformat())
        session.add(row)
    return [row.workflow_id for row in open_rows]
