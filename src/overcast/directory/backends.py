"""The store back ends: every difference between SQLite and PostgreSQL the transaction meets.

:class:`~overcast.directory.transaction.Transaction` writes its SQL once, with ``?`` marks, and
asks its :class:`Backend` for what differs: the driver's parameter style, how a list is
matched, how many rows go in one round trip (PostgreSQL's pipeline mode and COPY; SQLite's
executemany), row locks (PostgreSQL runs writers concurrently; SQLite has one writer at a time,
so it needs none), where revisions and system-wide counters come from, and the notification of
new changes. Statements go to the DB-API cursor directly on hot paths: SQLAlchemy's statement
and result layers cost more per call than SQLite spends running them.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from .. import jsoncodec
from .db import GLOBAL_COUNTERS, addresses, changes, counters, macs, objects, scopes

#: Columns stored as JSON (pre-encoded for the driver by :func:`driver_rows`).
JSON_COLUMNS = frozenset({"data"})

#: From how many rows a PostgreSQL insert goes through COPY rather than an executemany.
COPY_THRESHOLD = 8

_HEAD_REVISION = select(func.max(changes.c.revision))

#: PostgreSQL: take revisions from the counter (its row lock orders commits by revision) and
#: append the change records given as arrays, in one statement.
_APPEND_CHANGES = (
    "WITH taken AS (UPDATE counters SET value = value + %b WHERE name = 'revision' "
    "RETURNING value - %b AS first) "
    "INSERT INTO changes (revision, created, type, entity_type, entity_id, parent_type, parent_id, "
    "enterprise_id, user_id, data) "
    "SELECT taken.first + c.ordinality - 1, c.created, c.type, c.entity_type, c.entity_id, c.parent_type, "
    "c.parent_id, c.enterprise_id, c.user_id, CAST(c.data AS JSON) FROM taken, unnest("
    "CAST(%b AS BIGINT[]), CAST(%b AS TEXT[]), CAST(%b AS TEXT[]), CAST(%b AS TEXT[]), CAST(%b AS TEXT[]), "
    "CAST(%b AS TEXT[]), CAST(%b AS TEXT[]), CAST(%b AS TEXT[]), CAST(%b AS TEXT[])) WITH ORDINALITY "
    "AS c(created, type, entity_type, entity_id, parent_type, parent_id, enterprise_id, user_id, data) "
    "RETURNING revision"
)

_TABLES = {t.name: t for t in (objects, scopes, changes, addresses, macs)}

#: A next value of a named counter: (name, start, count) -> the first value taken.
NextValue = Callable[[str, int, int], int]


def driver_rows(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as the driver's tuples, JSON columns encoded (one C-level getter per row)."""
    values = operator.itemgetter(*columns)
    encoded = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
    if not encoded:
        return list(map(values, rows))
    (position,) = encoded  # one JSON column per table
    encode = jsoncodec.dumps
    out = []
    for row in rows:
        found = values(row)
        out.append((*found[:position], encode(found[position]), *found[position + 1 :]))
    return out


class Backend:
    """What a transaction asks of its store; one instance per kind of store, stateless."""

    name: str
    #: Whether writers run concurrently (rows they share must be locked), or one at a time.
    concurrent_writers: bool
    #: Whether statements can be sent together in one round trip (see :meth:`batch`).
    pipelines: bool

    def sql(self, statement: str) -> str:
        """A statement written with ``?`` marks, in the driver's parameter style."""
        raise NotImplementedError

    def execute(
        self, conn: Connection, statement: str, parameters: list[Any], *, returns_rows: bool = True
    ) -> list[tuple[Any, ...]]:
        """Rows of a ``?``-marked statement, straight from the connection's DB-API cursor."""
        cursor = conn.connection.cursor()
        try:
            cursor.execute(self.sql(statement), parameters)
            return list(cursor.fetchall()) if returns_rows else []
        finally:
            cursor.close()

    def batch(self, conn: Connection, statements: list[tuple[str, list[Any]]]) -> list[list[tuple[Any, ...]]]:
        """The rows of each query, in as few round trips as the driver allows."""
        return [self.execute(conn, statement, parameters) for statement, parameters in statements]

    def among(self, values: list[Any]) -> tuple[str, list[Any]]:
        """A test that a column is one of ``values`` (SQL after the column, parameters)."""
        raise NotImplementedError

    def among_json(self, values: list[Any]) -> tuple[str, list[Any]]:
        """:meth:`among` for many values (one parameter whatever their number)."""
        raise NotImplementedError

    def insert_ignoring_conflicts(self, table: Table) -> Any:
        """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` (a Core statement)."""
        raise NotImplementedError

    @functools.cache  # noqa: B019 (one instance per back end, for the process's life)
    def insert_statement(self, table_name: str) -> tuple[str, tuple[str, ...]]:
        """``INSERT`` in the driver's own parameter style, and the column order of its tuples.

        Bulk rows go to the DB-API cursor directly: SQLAlchemy's per-row parameter processing
        (type processors, dictionaries per row) cost more than SQLite spends inserting them."""
        table = _TABLES[table_name]
        columns = tuple(c.name for c in table.columns if c.name != "pk")
        return (
            f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({self._values(table, columns)})",
            columns,
        )

    def _values(self, table: Table, columns: tuple[str, ...]) -> str:
        raise NotImplementedError

    def executemany(
        self, conn: Connection, statement: str, rows: list[tuple[Any, ...]], pipeline: Any
    ) -> bool:
        """Send rows with one executemany where that is the way — into ``pipeline`` (a cursor
        in pipeline mode, or None), or when the back end has nothing better — and say so;
        False leaves them to a bulk statement (:meth:`insert_rows`, :meth:`update_objects`)."""
        if pipeline is not None:
            pipeline.executemany(statement, rows)
            return True
        conn.exec_driver_sql(statement, rows)  # type: ignore[arg-type]
        return True

    def insert_rows(
        self, conn: Connection, table_name: str, rows: Iterable[dict[str, Any]], pipeline: Any
    ) -> None:
        statement, columns = self.insert_statement(table_name)
        self.executemany(conn, statement, driver_rows(columns, rows), pipeline)

    def update_objects(self, conn: Connection, parameters: list[dict[str, Any]], pipeline: Any) -> None:
        """Updates of stored objects (``b_*`` parameters; ``b_keys``: the indexed columns
        change too)."""
        raise NotImplementedError

    def delete_scopes(self, conn: Connection, object_ids: list[str], pipeline: Any) -> None:
        """Remove the scope rows of these objects (they are written again)."""
        for start in range(0, len(object_ids), 500):
            chunk = object_ids[start : start + 500]
            conn.execute(scopes.delete().where(scopes.c.object_id.in_(chunk)))

    def allocate(self, conn: Connection, counter: str, next_value: NextValue) -> int:
        """The next value of a system-wide counter (``GLOBAL_COUNTERS``): unique, never reused."""
        raise NotImplementedError

    def lock_name(self, conn: Connection, key: str, ensure_counter: Callable[[str, int], None]) -> bool:
        """Serialise writers on a name until the transaction ends; whether a lock was taken."""
        raise NotImplementedError

    def reserve_revisions(self, conn: Connection, count: int, next_value: NextValue) -> int:
        """The first of ``count`` consecutive change-log revisions for this transaction."""
        raise NotImplementedError

    def announce_changes(self, conn: Connection) -> None:
        """Tell listeners (controllers, other processes) that the change log grew."""

    def append_changes_in_one_round_trip(
        self, conn: Connection, records: list[dict[str, Any]], write_deferred: Callable[[Any], None]
    ) -> list[int]:
        """Only where :attr:`pipelines`: see :class:`PostgresBackend`."""
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"
    concurrent_writers = False
    pipelines = False

    def sql(self, statement: str) -> str:
        return statement

    def among(self, values: list[Any]) -> tuple[str, list[Any]]:
        return f"IN ({', '.join('?' for _ in values)})", list(values)

    def among_json(self, values: list[Any]) -> tuple[str, list[Any]]:
        return "IN (SELECT value FROM json_each(?))", [jsoncodec.dumps(values)]

    def insert_ignoring_conflicts(self, table: Table) -> Any:
        return sqlite.insert(table).on_conflict_do_nothing()

    def _values(self, table: Table, columns: tuple[str, ...]) -> str:
        return ", ".join("?" for _ in columns)

    def update_objects(self, conn: Connection, parameters: list[dict[str, Any]], pipeline: Any) -> None:
        encode = jsoncodec.dumps
        data_only = [(encode(p["b_data"]), p["b_updated"], p["b_id"]) for p in parameters if not p["b_keys"]]
        if data_only:  # the indexed columns unchanged: six index entries not rewritten (20 -> 5 us)
            conn.exec_driver_sql("UPDATE objects SET data = ?, updated = ? WHERE id = ?", data_only)  # type: ignore[arg-type]
        rows = [
            (p["b_name"], p["b_ukey"], encode(p["b_data"]), p["b_updated"], p["b_enterprise"], p["b_id"])
            for p in parameters
            if p["b_keys"]
        ]
        if rows:
            statement = (
                "UPDATE objects SET name = ?, ukey = ?, data = ?, updated = ?, enterprise_id = ? WHERE id = ?"
            )
            conn.exec_driver_sql(statement, rows)  # type: ignore[arg-type]

    def allocate(self, conn: Connection, counter: str, next_value: NextValue) -> int:
        return next_value(counter, GLOBAL_COUNTERS[counter], 1)

    def lock_name(self, conn: Connection, key: str, ensure_counter: Callable[[str, int], None]) -> bool:
        return False  # one writer at a time already

    def reserve_revisions(self, conn: Connection, count: int, next_value: NextValue) -> int:
        # The write transaction holds SQLite's only write lock: the log's own maximum is safe.
        head = conn.execute(_HEAD_REVISION).scalar()
        return int(head or 0) + 1


class PostgresBackend(Backend):
    name = "postgresql"
    concurrent_writers = True
    pipelines = True

    def sql(self, statement: str) -> str:
        # Binary parameters: psycopg's text form of an array escapes every element in Python,
        # eight times slower.
        return statement.replace("?", "%b")

    def batch(self, conn: Connection, statements: list[tuple[str, list[Any]]]) -> list[list[tuple[Any, ...]]]:
        """Sent together in pipeline mode: one round trip."""
        if len(statements) == 1:
            return super().batch(conn, statements)
        raw = conn.connection.driver_connection
        assert raw is not None
        cursors = [raw.cursor() for _ in statements]
        try:
            with raw.pipeline():
                for cursor, (statement, parameters) in zip(cursors, statements, strict=True):
                    cursor.execute(self.sql(statement), parameters)
            return [list(cursor.fetchall()) for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

    def among(self, values: list[Any]) -> tuple[str, list[Any]]:
        return "= ANY(?)", [list(values)]  # one array (psycopg rewrites every mark per call)

    def among_json(self, values: list[Any]) -> tuple[str, list[Any]]:
        return self.among(values)

    def insert_ignoring_conflicts(self, table: Table) -> Any:
        return postgresql.insert(table).on_conflict_do_nothing()

    def _values(self, table: Table, columns: tuple[str, ...]) -> str:
        dialect = postgresql.dialect()  # JSON columns cast to their own type (jsonb, or json)
        return ", ".join(
            f"CAST(%s AS {table.c[c].type.compile(dialect=dialect)})" if c in JSON_COLUMNS else "%s"
            for c in columns
        )

    def executemany(
        self, conn: Connection, statement: str, rows: list[tuple[Any, ...]], pipeline: Any
    ) -> bool:
        if pipeline is None and len(rows) >= COPY_THRESHOLD:
            return False
        return super().executemany(conn, statement, rows, pipeline)

    def insert_rows(
        self, conn: Connection, table_name: str, rows: Iterable[dict[str, Any]], pipeline: Any
    ) -> None:
        statement, columns = self.insert_statement(table_name)
        values = driver_rows(columns, rows)
        if self.executemany(conn, statement, values, pipeline):
            return
        # COPY, one statement for the lot (an executemany, even pipelined, runs the executor
        # once per row: 70 % of a bulk create's time was the server doing that).
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        finally:
            cursor.close()

    def update_objects(self, conn: Connection, parameters: list[dict[str, Any]], pipeline: Any) -> None:
        encode = jsoncodec.dumps
        rows = [
            (p["b_name"], p["b_ukey"], encode(p["b_data"]), p["b_updated"], p["b_enterprise"], p["b_id"])
            for p in parameters
        ]
        statement = (
            "UPDATE objects SET name = %s, ukey = %s, data = CAST(%s AS JSONB), updated = %s, "
            "enterprise_id = %s WHERE id = %s"
        )
        if self.executemany(conn, statement, rows, pipeline):
            return
        # One statement joining the new values as arrays (as COPY for inserts).
        self.execute(
            conn,
            "UPDATE objects AS o SET name = v.name, ukey = v.ukey, data = CAST(v.data AS JSONB), "
            "updated = v.updated, enterprise_id = v.enterprise_id FROM unnest("
            "CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]), "
            "CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS v(name, ukey, data, updated, enterprise_id, id) "
            "WHERE o.id = v.id",
            [list(column) for column in zip(*rows, strict=True)],
            returns_rows=False,
        )

    def delete_scopes(self, conn: Connection, object_ids: list[str], pipeline: Any) -> None:
        if pipeline is not None:
            pipeline.execute("DELETE FROM scopes WHERE object_id = ANY(%b)", [object_ids])
            return
        super().delete_scopes(conn, object_ids, pipeline)

    def allocate(self, conn: Connection, counter: str, next_value: NextValue) -> int:
        return int(conn.execute(text(f"SELECT nextval('oc_seq_{counter.lower()}')")).scalar_one())

    def lock_name(self, conn: Connection, key: str, ensure_counter: Callable[[str, int], None]) -> bool:
        ensure_counter(key, 0)
        conn.execute(select(counters.c.value).where(counters.c.name == key).with_for_update())
        return True

    def reserve_revisions(self, conn: Connection, count: int, next_value: NextValue) -> int:
        # The counter row's lock, taken last, orders commits by revision.
        return next_value("revision", 1, count)

    def announce_changes(self, conn: Connection) -> None:
        conn.exec_driver_sql("NOTIFY overcast_changes")

    def append_changes_in_one_round_trip(
        self, conn: Connection, records: list[dict[str, Any]], write_deferred: Callable[[Any], None]
    ) -> list[int]:
        """The deferred rows (``write_deferred`` given the pipeline's cursor), the change log
        and its notification, sent in pipeline mode — one round trip instead of one per
        statement (a single create took five). The revisions come from the counter row inside
        the statement that inserts the log; none when it has no row yet (the first change)."""
        columns = ("created", "type", "entity_type", "entity_id", "parent_type", "parent_id", "enterprise_id")
        arrays = [[r[c] for r in records] for c in columns]
        arrays += [[r["user_id"] for r in records], [jsoncodec.dumps(r["data"]) for r in records]]
        raw = conn.connection.driver_connection
        assert raw is not None
        log = raw.cursor()
        try:
            with raw.pipeline(), raw.cursor() as cursor:
                write_deferred(cursor)
                log.execute(_APPEND_CHANGES, [len(records), len(records), *arrays])
                cursor.execute("NOTIFY overcast_changes")
            return [int(row[0]) for row in log.fetchall()]
        finally:
            log.close()


SQLITE, POSTGRESQL = SqliteBackend(), PostgresBackend()


def backend_for(url: str) -> Backend:
    return SQLITE if url.startswith("sqlite") else POSTGRESQL
