"""The alembic migrations build exactly the tables the models declare, and carry the data of an
older schema (0011: the users' login names and tokens)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, col, select

import models  # noqa: F401  (registers every table)
from core.auth import hash_token
from core.db import Database, migrate, with_database
from core.errors import AppError
from models.account import ApiToken
from models.user import User
from services import sessions


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_0011_gives_existing_users_a_login_and_keeps_their_tokens(pg_server: str) -> None:
    """Users as the schema before 0011 held them (the token's hash on the user row): after the
    upgrade each has the login name made from its organisation's code and its id, no password
    yet, and its old bearer token still works (an inactive one's still does not)."""
    name = f"unioncard_m0011_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(pg_server, name)
    migrate(url, "0010")
    old, stopped = f"uc_{uuid.uuid4().hex}", f"uc_{uuid.uuid4().hex}"
    with psycopg.connect(url) as conn:
        org = conn.execute(
            "INSERT INTO organisations (name, level, code, path, created_at)"
            " VALUES ('迁移测试市总', 'city', 'X14-汇01', '/x14/', now()) RETURNING id"
        ).fetchone()
        assert org is not None
        users = [
            conn.execute(
                "INSERT INTO users (name, org_id, role, token_hash, active, created_at)"
                " VALUES (%s, %s, %s, %s, %s, now()) RETURNING id",
                (person, org[0], role, hash_token(token), active),
            ).fetchone()
            for person, role, token, active in (("老管理员", "admin", old, True), ("老经办", "clerk", stopped, False))
        ]
    migrate(url, "head")
    db = Database(url)
    try:
        with db.session() as session:
            migrated = session.exec(select(User).order_by(col(User.id))).all()
            ids = [u[0] for u in users if u is not None]
            assert [(u.id, u.login, u.password_hash) for u in migrated] == [(i, f"x14-01-{i}", None) for i in ids]
            actor = sessions.actor_for_token(session, old)
            assert (actor.user_id, actor.login, actor.role, actor.org_code) == (
                ids[0],
                f"x14-01-{ids[0]}",
                "admin",
                "X14-汇01",
            )
            with pytest.raises(AppError) as refused:
                sessions.actor_for_token(session, stopped)
            assert refused.value.code == "invalid_token"
            moved = session.exec(select(ApiToken).order_by(col(ApiToken.user_id))).all()
            assert [(t.user_id, t.name, t.revoked_at) for t in moved] == [(i, "初始令牌", None) for i in ids]
    finally:
        db.dispose()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
