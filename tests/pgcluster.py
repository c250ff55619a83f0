"""A private PostgreSQL cluster in a temporary folder on its own loopback port (the Debian
``postgresql`` server binaries), for tests and benchmarks."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager

from tests.ports import free_port


@contextmanager
def postgres_cluster(database: str = "suanwang_test"):
    """Yields a ``postgresql://`` URL; stops the cluster and removes its folder afterwards."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise RuntimeError("PostgreSQL server binaries are not installed; run `bash .ci/run`, which installs them")
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

    try:
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
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "suanwang", database)
        yield f"postgresql://suanwang@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run([f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"], user=user, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
