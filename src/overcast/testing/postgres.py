"""A throwaway PostgreSQL cluster owned by a test or benchmark run.

Uses Debian's ``postgresql`` binaries (``/usr/lib/postgresql/<v>/bin``). ``initdb`` refuses to
run as root, so as root the cluster belongs to the ``postgres`` system user. It listens on
loopback on a free port, trusts local connections, and is removed when the context exits.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .ports import free_port


def postgres_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(candidates[-1]) if candidates else None


@contextmanager
def throwaway_postgres(database: str = "overcast") -> Iterator[str]:
    """Yield a ``postgresql+psycopg://`` URL of a fresh database; stop and delete it after."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = tempfile.mkdtemp(prefix="overcast-pg-")
    data = os.path.join(root, "data")
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o700)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, cwd="/")

    try:
        run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            "start",
        )
        for _ in range(50):
            probe = subprocess.run(
                [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            )
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(
            [*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            cwd="/",
        )
        shutil.rmtree(root, ignore_errors=True)
