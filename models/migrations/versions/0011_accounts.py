"""accounts: login names and passwords, API tokens of their own (the users' tokens move there),
setup codes, browser sessions, failed sign-ins and locks

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("users", sa.Column("login", sa.String(length=40), nullable=True))
    op.add_column("users", sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.add_column("users", _at("password_changed_at", True))
    op.add_column("users", _at("deactivated_at", True))
    # existing users get a login name from their organisation and id; they set a password after a reset
    op.execute(
        """UPDATE users u SET login = lower(regexp_replace(o.code, '[^A-Za-z0-9._-]', '', 'g')) || '-' || u.id
           FROM organisations o WHERE o.id = u.org_id"""
    )
    op.alter_column("users", "login", nullable=False)
    op.create_unique_constraint("users_login_key", "users", ["login"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("expires_at", True),
        _at("revoked_at", True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.execute(
        """INSERT INTO api_tokens (user_id, name, token_hash, created_at)
           SELECT id, '初始令牌', token_hash, created_at FROM users"""
    )
    op.drop_constraint("users_token_hash_key", "users", type_="unique")
    op.drop_column("users", "token_hash")
    op.create_table(
        "setup_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_setup_codes_user_id", "setup_codes", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("last_seen_at"),
        _at("ended_at", True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=40), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        _at("at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sign_in_failures_login", "sign_in_failures", ["login", "at"])
    op.create_index("ix_sign_in_failures_client", "sign_in_failures", ["client", "at"])
    op.create_table(
        "sign_in_locks",
        sa.Column("key", sa.String(length=110), nullable=False),
        _at("until"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_locks")
    op.drop_index("ix_sign_in_failures_client", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_login", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_setup_codes_user_id", table_name="setup_codes")
    op.drop_table("setup_codes")
    op.add_column("users", sa.Column("token_hash", sa.String(length=64), nullable=True))
    op.execute(
        """UPDATE users u SET token_hash = (SELECT t.token_hash FROM api_tokens t WHERE t.user_id = u.id
           ORDER BY t.id LIMIT 1)"""
    )
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_constraint("users_login_key", "users", type_="unique")
    op.drop_column("users", "deactivated_at")
    op.drop_column("users", "password_changed_at")
    op.drop_column("users", "password_hash")
    op.drop_column("users", "login")
