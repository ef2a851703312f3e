"""Shared setup for enrollment tests: programme-year configurations, a fresh union with its own
clerk, members with cards (as the card batch flow leaves them)."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from core.db import Database
from documents.fake_members import HEADERS, member_rows, write_csv
from tests.api.helpers import imported
from tests.conftest import auth

ADMIN, CENTER = "admin@SH", "center_reviewer@SH"
DISTRICT, SECONDARY = "reviewer@101", "reviewer@101-S01"


PRESETS = Path(__file__).resolve().parent.parent / "presets"


def preset(name: str) -> dict[str, Any]:
    """A programme-year preset as shipped in ``presets/`` (what the README applies)."""
    loaded: dict[str, Any] = json.loads((PRESETS / f"programme-{name}.json").read_text(encoding="utf-8"))
    return loaded


def config_2024_round() -> dict[str, Any]:
    """The 2024 round of seed 002: windows in late 2023, coverage the calendar year 2024."""
    return preset("2024")


def config_2014_rules() -> dict[str, Any]:
    """Seed 004: a member's type follows their card: issued and registered in the first half, a
    year from 1 July at 24 CNY; issued in the second half, 1 January - 30 June next year at 12."""
    return preset("2014")


def config_around(today: date, *, shares: tuple[str, str, str] = ("50", "30", "20"), **days: Any) -> dict[str, Any]:
    """Windows placed around ``today`` (offsets in days can be overridden by keyword)."""
    d: dict[str, Any] = {
        "split": (-1, 1),
        "submission": (-1, 3),
        "deadline": 5,
        "district": (-1, 10),
        "coverage": (20, 385),
    }
    d.update(days)

    def on(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    def window(key: str) -> dict[str, str]:
        start, end = d[key]
        return {"start": on(start), "end": on(end)}

    return {
        "plan_name": "测试年度会员专享基本保障计划",
        "protection_types": [
            {"code": "A", "name": "A类会员专享基本保障", "price": "26"},
            {"code": "B+", "name": "B+类会员专享基本保障", "price": "100"},
        ],
        "default_split": {"city": shares[0], "district": shares[1], "grassroots": shares[2]},
        "split_window": window("split"),
        "submission_window": window("submission"),
        "payment_deadline": on(d["deadline"]),
        "district_window": window("district"),
        "coverage": window("coverage"),
    }


async def put_year(api: httpx.AsyncClient, tokens: dict[str, str], year: int, config: dict[str, Any]) -> None:
    r = await api.put(f"/programme-years/{year}", json=config, headers=auth(tokens[ADMIN]))
    assert r.status_code == 200, r.text


async def fresh_union(api: httpx.AsyncClient, tokens: dict[str, str], parent: str) -> tuple[str, str]:
    """A new grassroots union under ``parent`` and its clerk's token."""
    code = f"{parent}-T{uuid.uuid4().hex[:5]}"
    admin = auth(tokens[ADMIN])
    r = await api.post(
        "/orgs",
        json={"code": code, "name": f"测试单位{code}工会委员会", "level": "grassroots", "parent_code": parent,
              "grassroots_type": "committee"},
        headers=admin,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await api.post("/users", json={"name": "测试经办人", "org_code": code, "role": "clerk"}, headers=admin)
    assert r.status_code == 201, r.text
    return code, str(r.json()["token"])


async def carded_members(
    api: httpx.AsyncClient, db: Database, token: str, org: str, tmp: Path, count: int, seed: int
) -> list[str]:
    """Import ``count`` members and give each an issued card, as a completed card batch would."""
    rows = list(member_rows(count, seed=seed, phone_base=15_000_000_000 + seed * 1000))
    for row in rows:  # everyone in service and insured; tests change single members as they need
        row[HEADERS.index("在职状态")] = "在职"
        row[HEADERS.index("退休日期")] = ""
        row[HEADERS.index("开始参加社保时间")] = "2015-01"
    await imported(api, token, org, write_csv(tmp / f"members-{seed}.csv", rows))
    ids = [r[HEADERS.index("证件号码")] for r in rows]
    with db.connect() as conn:
        nos = [r[0] for r in conn.execute(
            "SELECT member_no FROM members WHERE id_number = ANY(%s) ORDER BY member_no", (ids,)
        )]  # fmt: skip
        for i, no in enumerate(nos):
            card_no = f"62228800{seed % 10000:04d}{i:07d}"
            conn.execute("INSERT INTO cards (card_no, member_no, status, issued_at) VALUES (%s, %s, 'issued', now())",
                         (card_no, no))  # fmt: skip
            conn.execute("UPDATE members SET card_no = %s, card_status = 'issued' WHERE member_no = %s", (card_no, no))
        conn.commit()
    return nos
