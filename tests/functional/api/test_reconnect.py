"""The directory outlives its database connections: when PostgreSQL drops them (a restart, an
administrator terminating backends), the next requests get fresh ones instead of errors."""

from __future__ import annotations

import time

import psycopg
import pytest

from overcast.client.vsd import VsdClient
from overcast.testing.directory import served_directory


@pytest.mark.postgres
def test_requests_after_the_server_dropped_every_connection_succeed(postgres_database: str) -> None:
    with served_directory(postgres_database) as served:
        client = VsdClient(served.url)
        client.create("enterprises", {"name": "before"})
        for _ in range(3):  # several pooled connections in use at once, then idle
            client.list("enterprises")
        raw = postgres_database.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(raw, autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert dropped is not None and dropped[0] >= 1
        time.sleep(0.2)  # the terminations reach the sockets
        # Reads and writes, at once (long before an idle connection would be pinged anyway).
        assert {e["name"] for e in client.list("enterprises").items} >= {"before"}
        client.create("enterprises", {"name": "after"})
        assert {e["name"] for e in client.list("enterprises").items} >= {"before", "after"}
