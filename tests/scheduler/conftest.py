"""Databases for persistence and API tests: a SQLite file, and a private PostgreSQL cluster (the Debian
``postgresql`` server binaries) initialised in a temporary folder and run on its own port."""

from __future__ import annotations

import pytest

from tests.pgcluster import postgres_cluster


@pytest.fixture(scope="session")
def postgres_url():
    try:
        with postgres_cluster() as url:
            yield url
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    from sqlalchemy import text

    from suanwang.scheduler.db.engine import make_engine, upgrade
    from suanwang.scheduler.db.models import Base

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'suanwang.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    eng = make_engine(url)
    if eng.dialect.name == "postgresql":  # a clean schema for every test
        with eng.begin() as conn:
            for table in [*reversed(Base.metadata.sorted_tables)]:
                conn.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(eng)
    yield eng
    eng.dispose()
