"""The migrations build exactly the schema the code describes (``db.metadata``), on both
stores: a column type or index changed in one place but not the other fails here."""

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from overcast.directory.db import Store, metadata, migrate

from ..support.stores import BACKENDS


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_migrated_schema_matches_the_tables_the_code_uses(database_url: str) -> None:
    store = Store(database_url)
    try:
        migrate(store)
        with store.engine.connect() as conn, warnings.catch_warnings():
            # Expression indexes (lower(name)) cannot be compared; alembic warns and skips them.
            warnings.simplefilter("ignore")
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, metadata) if d[0] != "remove_table"]
        assert differences == []
    finally:
        store.dispose()
