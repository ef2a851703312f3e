"""The workbench's Jinja2 environment: templates of ``web/templates``, autoescaped, with the
helpers every page uses (Chinese labels of codes, amounts, dates and instants in the programme's
time zone, the state machine drawing)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from models.states import LABELS, STATUSES, Role, label, label_of
from web.machines import machine_svg

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
TZ = ZoneInfo("Asia/Shanghai")


def _status(machine: str, code: str | None) -> str:
    statuses = STATUSES.get(machine)
    return label_of(statuses, code) if statuses and code else code or ""


def _when(moment: datetime | str | None) -> str:
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def _day(value: date | str | None) -> str:
    return value.isoformat() if isinstance(value, date) else (value or "")


def _machine(machine: str, current: str | None) -> Markup:
    return Markup(machine_svg(machine, current))  # noqa: S704  (drawn by us from the declared machine, labels escaped)


def age(seconds: int | None) -> str:
    """How long something has waited, as a person says it: 3 天, 5 小时, 12 分钟, 刚刚."""
    if seconds is None:
        return ""
    for unit, size in (("天", 86400), ("小时", 3600), ("分钟", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return "刚刚"


def use_time_zone(name: str) -> None:
    global TZ
    TZ = ZoneInfo(name)


env: Any = templates.env
env.globals.update(
    status_label=_status,
    when=_when,
    day=_day,
    machine=_machine,
    role_label=LABELS[Role].get,
    value_label=label,
    age=age,
)
