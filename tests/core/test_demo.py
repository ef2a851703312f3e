"""The demo data of `unioncard dev` on every start: a demo year open today (rewritten while nothing
of it runs, followed by the next year once its dates are in force), and a covered member the
product's own claim checks accept today. On a database of its own: card validity reads every
configured year's window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from activities.claims import _COVERAGE_SQL, ClaimActivities
from cli.demo import DEMO_MARK, open_on, seed_demo, seed_demo_year, token_variables
from cli.demo_history import seed_covered_member
from core.db import Database
from core.settings import Settings
from models.enrollment import Enrollment
from models.org import Organisation
from models.programme import ProgrammeYear, ProgrammeYearConfig
from models.user import User
from services import sessions
from tests.conftest import fresh_database

TZ = "Asia/Shanghai"


@pytest.fixture
def demo_db(pg_server: str) -> Iterator[Database]:
    db = Database(fresh_database(pg_server, "unioncard_demo"))
    yield db
    db.dispose()


def start(db: Database, tokens: Path, day: date) -> tuple[int, int, str]:
    """What `unioncard dev` seeds on a start on ``day``."""
    with db.session() as session:
        seed_demo(session, tokens)
        years = seed_demo_year(session, day)
        assert years is not None
        covered = seed_covered_member(session, demo_year=years[0], history_year=years[1], today=day, tz=TZ)
        config = ProgrammeYearConfig.model_validate(session.get(ProgrammeYear, years[0]).config)  # type: ignore[union-attr]
        assert open_on(config, years[0], day)
        assert config.plan_name.endswith(DEMO_MARK)
    return years[0], years[1], covered.member_no


def claim_refusals(db: Database, member_no: str, day: date) -> list[str]:
    """What a claim's eligibility check says about the card and the coverage of an event on ``day``."""
    checks = ClaimActivities(db, Settings(database_url="postgresql://unused", timezone=TZ))
    with db.connect() as conn:
        reasons = checks._card_reasons(conn, member_no, day)
        if conn.execute(_COVERAGE_SQL, (member_no, day, day)).fetchone() is None:
            reasons.append("not covered")
    return reasons


def test_every_start_gives_a_demo_year_open_today_and_a_covered_member(demo_db: Database, tmp_path: Path) -> None:
    tokens = tmp_path / "demo-tokens.json"
    day = date(2026, 12, 2)
    assert start(demo_db, tokens, day) == (2027, 2026, "1010000001")
    assert claim_refusals(demo_db, "1010000001", day) == []
    assert claim_refusals(demo_db, "1010000001", day + timedelta(days=100)) != []  # the card lapsed by then
    exported = token_variables(json.loads(tokens.read_text(encoding="utf-8")))
    assert {"export CLERK", "export UNION_REVIEWER", "export ADMIN"} <= {line.split("=")[0] for line in exported}

    # Two months later, nothing of 2027 has started: its dates move to the new day, same year.
    later = day + timedelta(days=60)
    assert start(demo_db, tokens, later) == (2027, 2026, "1010000001")
    assert claim_refusals(demo_db, "1010000001", later) == []

    # An enrollment of 2027 runs with its dates: a later start keeps them and opens 2028.
    with demo_db.session() as session:
        org = session.exec(select(Organisation).where(Organisation.code == "104-0001")).one()
        clerk = session.exec(select(User).where(User.org_id == org.id)).first()
        assert clerk is not None
        running = Enrollment(org_id=org.id or 0, year=2027, district_code="104", created_by=clerk.id or 0,
                             workflow_id="enrollment-104-0001-2027")  # fmt: skip
        session.add(running)
        session.commit()
        kept = session.get(ProgrammeYear, 2027).config  # type: ignore[union-attr]
    much_later = later + timedelta(days=60)
    assert start(demo_db, tokens, much_later) == (2028, 2026, "1010000001")
    with demo_db.session() as session:
        assert session.get(ProgrammeYear, 2027).config == kept  # type: ignore[union-attr]
    assert claim_refusals(demo_db, "1010000001", much_later) == []

    # The same day again: nothing moves, nothing is added, the same member.
    assert start(demo_db, tokens, much_later) == (2028, 2026, "1010000001")
    with demo_db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM members").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM programme_years").fetchone() == (3,)


def test_a_second_start_adds_a_demo_user_an_old_data_dir_lacks(demo_db: Database, tmp_path: Path) -> None:
    tokens = tmp_path / "demo-tokens.json"
    with demo_db.session() as session:
        first = seed_demo(session, tokens)
    older = [t for t in first if t["role"] != "reviewer" or t["org"] != "101-0001"]
    tokens.write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    with demo_db.session() as session:
        again = seed_demo(session, tokens)
    assert [t["token"] for t in again[: len(older)]] == [t["token"] for t in older]
    assert again[-1]["org"] == "101-0001" and again[-1]["role"] == "reviewer" and again[-1] != first[-1]


def test_an_older_tokens_file_without_logins_and_passwords_is_rewritten(demo_db: Database, tmp_path: Path) -> None:
    tokens = tmp_path / "demo-tokens.json"
    with demo_db.session() as session:
        first = seed_demo(session, tokens)
    older = [{k: v for k, v in t.items() if k not in ("login", "password")} for t in first]
    older[0]["login"] = first[0]["login"]  # one entry with its login but no password
    tokens.write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    with demo_db.session() as session:
        again = seed_demo(session, tokens)
    saved = json.loads(tokens.read_text(encoding="utf-8"))
    assert saved == again and len(saved) == len(first)
    assert [t["token"] for t in saved] == [t["token"] for t in first]  # the same users, their tokens kept
    with demo_db.session() as session:
        for i, entry in enumerate(saved):
            assert entry["login"] and entry["password"] and entry["password"] != first[i]["password"], entry["name"]
            signed = sessions.sign_in(session=session, login=entry["login"], password=entry["password"], client="x14")
            assert signed.user.login == entry["login"] == first[i]["login"]
            assert sessions.actor_for_token(session, entry["token"]).user_id == signed.user.id
