"""A write the database aborts to resolve a conflict runs again, whichever layer raised it."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.directory.db import Store, migrate
from overcast.directory.service import Directory, Operations


class _DriverError(Exception):
    """What psycopg raises for a statement sent through the DB-API cursor."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Directory]:
    store = Store(f"sqlite:///{tmp_path / 'directory.db'}")
    migrate(store)
    yield Directory(store)
    store.dispose()


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "23505"])
def test_a_writer_aborted_by_the_database_runs_again(directory: Directory, sqlstate: str) -> None:
    attempts: list[int] = []

    def work(ops: Operations) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _DriverError(sqlstate)
        return "done"

    assert directory.write_as_system(work) == "done"
    assert len(attempts) == 3


def test_other_failures_are_not_retried(directory: Directory) -> None:
    attempts: list[int] = []

    def work(ops: Operations) -> None:
        attempts.append(1)
        raise _DriverError("23502")  # not-null violation: a bug, not a conflict

    with pytest.raises(_DriverError):
        directory.write_as_system(work)
    assert len(attempts) == 1
