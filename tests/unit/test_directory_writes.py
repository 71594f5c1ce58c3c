"""Write transactions: retried when the database aborts them for a conflict, and updates that
rewrite only what changed."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast.directory.db import Store, migrate, objects
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


def test_an_update_that_renames_then_changes_data_keeps_the_new_name(directory: Directory) -> None:
    """Updates that leave the indexed columns alone rewrite ``data`` only; a rename followed by
    another change of the same object in one transaction must still reach the name column."""

    def create(ops: Operations) -> str:
        enterprise = ops.create_internal(None, "enterprise", {"name": "before"})
        return enterprise.id

    enterprise_id = directory.write_as_system(create)

    def rename_then_describe(ops: Operations) -> None:
        enterprise = ops.tx.get(enterprise_id)
        assert enterprise is not None
        enterprise.data["name"] = "after"
        ops.tx.save(enterprise)
        enterprise.data["description"] = "renamed"
        ops.tx.save(enterprise)

    directory.write_as_system(rename_then_describe)
    assert stored(directory, enterprise_id) == ("after", "renamed")

    def describe_only(ops: Operations) -> None:
        enterprise = ops.tx.get(enterprise_id)
        assert enterprise is not None
        enterprise.data["description"] = "data only"
        ops.tx.save(enterprise)

    directory.write_as_system(describe_only)
    assert stored(directory, enterprise_id) == ("after", "data only")


def stored(directory: Directory, object_id: str) -> tuple[str, str]:
    """The name column and the description in ``data``, as stored."""
    with directory.store.read() as conn:
        row = conn.execute(select(objects.c.name, objects.c.data).where(objects.c.id == object_id)).one()
    assert row.data["name"] == row.name
    return row.name, row.data.get("description")
