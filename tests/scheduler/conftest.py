"""Databases for persistence and API tests: a SQLite file, and a private PostgreSQL cluster (the Debian
``postgresql`` server binaries) initialised in a temporary folder and run on its own port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from tests.collectors.conftest import free_port


@pytest.fixture(scope="session")
def postgres_url():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.fail("PostgreSQL server binaries are not installed; run `bash .ci/run`, which installs them")
    bindir = os.path.dirname(bins[-1])
    folder = tempfile.mkdtemp(prefix="suanwang-pg-")
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        pw = pwd.getpwnam("postgres")
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        user = "postgres"
    data, port = os.path.join(folder, "data"), free_port()

    def run(*cmd):
        subprocess.run(cmd, check=True, user=user, capture_output=True, cwd=folder)

    run(f"{bindir}/initdb", "-D", data, "-U", "suanwang", "--auth=trust", "-E", "UTF8")
    run(
        f"{bindir}/pg_ctl",
        "-D",
        data,
        "-l",
        os.path.join(folder, "log"),
        "-w",
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "suanwang", "suanwang_test")
    yield f"postgresql://suanwang@127.0.0.1:{port}/suanwang_test"
    subprocess.run([f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"], user=user, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    from sqlalchemy import text

    from scheduler.db.engine import make_engine, upgrade
    from scheduler.db.models import Base

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
