"""Shared fixtures: the store back ends and a directory served over real HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from overcast.testing.directory import ServedDirectory, served_directory
from overcast.testing.postgres import postgres_bindir, throwaway_postgres

from .support.stores import BACKENDS


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    if postgres_bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries missing: make test installs them")
        pytest.skip("PostgreSQL server binaries not installed")
    with throwaway_postgres("postgres_template") as url:
        yield url


def _fresh_postgres_database(cluster_url: str) -> str:
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    base = cluster_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return cluster_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def postgres_database(postgres_cluster: str) -> str:
    """A fresh database on the session's PostgreSQL cluster (for PostgreSQL-only tests)."""
    return _fresh_postgres_database(postgres_cluster)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'directory.db'}"
    cluster = request.getfixturevalue("postgres_cluster")
    return _fresh_postgres_database(cluster)


@pytest.fixture
def directory_server(database_url: str) -> Iterator[ServedDirectory]:
    with served_directory(database_url) as served:
        yield served


@pytest.fixture
def sqlite_server(tmp_path) -> Iterator[ServedDirectory]:  # type: ignore[no-untyped-def]
    with served_directory(f"sqlite:///{tmp_path / 'directory.db'}") as served:
        yield served
