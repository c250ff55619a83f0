"""Database URL, engine and migrations (alembic, run in-process)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import sessionmaker

from suanwang.errors import InputError, TemporaryError

DEFAULT_URL = "sqlite:///suanwang.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(url: str | None = None) -> str:
    """``url``, else ``SUANWANG_DATABASE_URL``, else a SQLite file in the working folder."""
    url = url or os.environ.get("SUANWANG_DATABASE_URL") or DEFAULT_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    # PostgreSQL ends a session left idle inside a transaction (a replica paused mid-write, e.g. by
    # SIGSTOP) after 5 s, so the row locks it held — the leader lease's among them — are not held for
    # ever; every transaction of the service sends its statements back to back.
    pg = {"options": "-c idle_in_transaction_session_timeout=5000"} if url.startswith("postgresql") else {}
    try:
        engine = create_engine(url, pool_pre_ping=True, connect_args=pg)
    except ArgumentError as e:
        raise InputError(
            f"SUANWANG_DATABASE_URL {url!r} is not a database URL ({e}); use sqlite:///FILE or "
            "postgresql://user:password@host:port/db"
        ) from e
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # foreign keys and concurrent readers
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the latest migration (or to ``revision``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as e:
        raise TemporaryError(
            f"database {engine.url.render_as_string(hide_password=True)} is not reachable "
            f"({e.orig}); start it or fix SUANWANG_DATABASE_URL",
            retry_after_s=5,
        ) from e


def sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
