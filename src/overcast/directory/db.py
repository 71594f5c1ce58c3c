"""The directory's tables and how to open the store (SQLite embedded default, or PostgreSQL).

Objects of every entity live in one table with their attributes as JSON: the VSD model has
hundreds of attributes per entity that the server only stores and echoes, while the few it
reasons about (parent, enterprise, name) are real, indexed columns. Descendant listings go
through ``scopes`` (an ancestor closure), associations through ``members``, allocated addresses
through ``addresses`` (its primary key is what makes concurrent allocation safe), and every
committed change through ``changes``, whose revision the controller tails.
"""

from __future__ import annotations

import logging
import os
import select
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DisconnectionError

from .. import jsoncodec
from ..statistics.metrics import COLUMNS as STAT_COLUMNS

log = logging.getLogger(__name__)

metadata = MetaData()

JsonType = JSON().with_variant(JSONB(), "postgresql")

objects = Table(
    "objects",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("parent_id", String(36)),
    Column("parent_type", String(40)),
    Column("enterprise_id", String(36)),
    Column("name", String(255)),
    # The value the entity must keep unique (its name, or e.g. a container's UUID).
    Column("ukey", String(255)),
    Column("data", JsonType, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Index("ix_objects_kind_parent_name", "kind", "parent_id", "name"),
    Index("ix_objects_kind_parent_lname", "kind", "parent_id", func.lower(text("name"))),
    Index("ix_objects_kind_lname", "kind", func.lower(text("name"))),
    Index("ix_objects_kind_enterprise", "kind", "enterprise_id"),
    Index("ix_objects_kind_name", "kind", "name"),
    Index("ix_objects_parent", "parent_id"),
    Index("ix_objects_kind_ukey", "kind", "ukey"),
)

scopes = Table(
    "scopes",
    metadata,
    Column("ancestor_id", String(36), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("object_id", String(36), primary_key=True),
    Index("ix_scopes_object", "object_id"),
)

members = Table(
    "members",
    metadata,
    Column("relation", String(64), primary_key=True),
    Column("parent_id", String(36), primary_key=True),
    Column("child_id", String(36), primary_key=True),
    Index("ix_members_child", "relation", "child_id"),
)

addresses = Table(
    "addresses",
    metadata,
    Column("network_id", String(36), primary_key=True),
    Column("address", BigInteger, primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Index("ix_addresses_owner", "owner_id"),
)

#: MACs in use per L2 network (subnet or L2 domain); the key makes duplicates impossible.
macs = Table(
    "macs",
    metadata,
    Column("network_id", String(36), primary_key=True),
    Column("mac", String(17), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Index("ix_macs_owner", "owner_id"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(80), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

changes = Table(
    "changes",
    metadata,
    Column("revision", BigInteger, primary_key=True, autoincrement=False),
    Column("created", BigInteger, nullable=False),
    Column("type", String(16), nullable=False),
    Column("entity_type", String(40), nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("parent_type", String(40)),
    Column("parent_id", String(36)),
    Column("enterprise_id", String(36)),
    Column("user_id", String(36)),
    # json, not jsonb, on PostgreSQL: read back whole only, and cheaper to append (0005).
    Column("data", JSON, nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("enterprise_id", String(36), nullable=False),
    Column("user_name", String(255), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Index("ix_credentials_login", "enterprise_id", "user_name", unique=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("expires", BigInteger, nullable=False),
    Index("ix_api_keys_user", "user_id"),
)

#: Statistics samples (:mod:`.statistics_store`): per resolution, bucket and object, the six
#: counters of :data:`overcast.statistics.metrics.COLUMNS` (deltas summed in the bucket). Keyed
#: in time order (writes append, pruning deletes a key range) with no other index; a series is
#: read by seeking each bucket of its range. No rowid on SQLite (migration 0008: ~40 % smaller).
statistics = Table(
    "statistics",
    metadata,
    Column("resolution", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("object_id", String(36), primary_key=True),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in STAT_COLUMNS),
    sqlite_with_rowid=False,
)

event_channels = Table(
    "event_channels",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("cursor", BigInteger, nullable=False),
    Column("last_poll", BigInteger, nullable=False),
)


#: System-wide numbers the directory hands out, and where each starts. On PostgreSQL they are
#: sequences (no lock held until commit, so writers never queue or deadlock on them; a rolled
#: back transaction leaves a gap, which uniqueness does not mind); on SQLite, which has one
#: writer at a time, rows of ``counters``. Migration 0002 creates the sequences.
GLOBAL_COUNTERS = {
    "vni": 4096,
    "serviceID": 20000,
    "domainID": 1,
    "labelID": 1000,
    "customerID": 10000,
    "statsID": 1,
}


def default_sqlite_url(state_dir: Path) -> str:
    """The embedded store in ``state_dir``, which is made (or made again) owner-only: the store
    holds password hashes and every tenant's policy."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(state_dir, 0o700)
    return f"sqlite:///{(state_dir / 'directory.db').resolve()}"


def _owner_only(path: Path, mode: int) -> None:
    """Take group and other access away from ``path`` (fix and warn: refusing to start would
    leave the operator with the same file and no service)."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, mode)
        log.warning("%s was readable by others (mode %o): made %o", path, current, mode)


def private_sqlite_files(url: str) -> None:
    """Create the SQLite database owner-only before SQLite opens it, and fix the modes of an
    existing one. SQLite creates its write-ahead log and shared-memory files with the mode of
    the database file, so a private database keeps private companions from their first instant.
    """
    path_text = url.split("///", 1)[1] if "///" in url else ""
    if not path_text or path_text.startswith(":memory:") or "mode=memory" in url:
        return
    path = Path(path_text.split("?", 1)[0])
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            _owner_only(companion, 0o600)


class Store:
    """An engine plus the discipline for write transactions on each backend.

    SQLite allows one writer: writes take an in-process lock and ``BEGIN IMMEDIATE`` (so another
    process waits on the busy timeout instead of failing on a stale snapshot). PostgreSQL runs
    writers concurrently; they serialise where it matters by row locks (see ``Transaction``).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {
            "echo": echo,
            "future": True,
            "json_serializer": jsoncodec.dumps,
            "json_deserializer": jsoncodec.loads,
        }
        if self.is_sqlite:
            private_sqlite_files(url)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=20, max_overflow=20)
        self.engine: Engine = create_engine(url, **kwargs)
        self._write_lock = threading.Lock()
        self._checkpointer: _Checkpointer | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _check_pooled_connections(self.engine)

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction. ``snapshot``: every statement sees the same committed state
        (SQLite's deferred transaction already does; PostgreSQL needs REPEATABLE READ)."""
        with self.engine.connect() as conn:
            if snapshot and not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        if self.is_sqlite:
            with self._write_lock:
                if self._checkpointer is None:
                    self._checkpointer = _Checkpointer(self.engine)
                checkpointer = self._checkpointer
                with self.engine.connect() as conn:
                    conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                    with conn.begin():
                        yield conn
                checkpointer.nudge()
        else:
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()


class _Checkpointer:
    """Copies SQLite's write-ahead log into the database file from a background thread.

    SQLite's automatic checkpoint runs inside the commit that crosses its threshold, with two
    fsyncs, on the writer's thread: a bulk request paid for it every time (≈ 20 % of a bulk
    create). Here a daemon thread runs a PASSIVE checkpoint (never blocks readers or writers)
    soon after writes — at most every ``spacing`` seconds, so a burst of commits shares one —
    and every ``interval`` seconds regardless. Copying pages and the fsyncs run in SQLite
    without the GIL: on a second core, beside the writer. The automatic checkpoint stays as a
    backstop for a log that grows past :data:`WAL_BACKSTOP_PAGES` in between (a bulk load that
    checkpointed every 5 s only crossed it every ten 500-container commits, 180 ms each time).
    """

    def __init__(self, engine: Engine, interval: float = 5.0, spacing: float = 0.25) -> None:
        self._engine = engine
        self._interval = interval
        self._spacing = spacing
        self._stopped = threading.Event()
        self._written = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """A write transaction committed: checkpoint soon."""
        self._written.set()

    def _run(self) -> None:
        raw = self._engine.raw_connection()
        try:
            while not self._stopped.is_set():
                self._written.wait(self._interval)
                self._written.clear()
                if self._stopped.is_set():
                    break
                try:
                    raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
                except Exception:  # busy or closing: the next round (or the backstop) catches up
                    pass
                self._stopped.wait(self._spacing)
        finally:
            raw.close()

    def stop(self) -> None:
        self._stopped.set()
        self._written.set()
        self._thread.join(timeout=5)


#: Pages of write-ahead log after which a commit checkpoints by itself (64 MB at 4 KB pages).
WAL_BACKSTOP_PAGES = 16384


#: PostgreSQL: a pooled connection idle this long is pinged before use (a firewall or an idle
#: timeout may have cut it without a word).
PING_AFTER_IDLE_SECONDS = 5.0


def _check_pooled_connections(engine: Engine) -> None:
    """Hand out only live pooled connections, without a round trip for most checkouts.

    ``pool_pre_ping`` sends ``SELECT 1`` at every checkout: one round trip of the four a single
    create makes. A connection is pinged here only when it could have died unnoticed: the
    server said something while it sat idle (a terminated backend or a shutting-down server
    sends an error and closes the socket, which makes it readable) or it sat idle longer than
    :data:`PING_AFTER_IDLE_SECONDS`. A failed ping raises ``DisconnectionError``: the pool drops
    the connection and checks out another (SQLAlchemy's documented custom pre-ping).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:  # just connected
            return
        if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS and not _has_input(dbapi_connection):
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def _has_input(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has something to read (or is closed)."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except Exception:  # closed already (psycopg refuses a closed connection's fileno)
        return True
    return bool(readable)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot do BEGIN IMMEDIATE; take over
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # The default 2 MB page cache makes every write past a few thousand objects hit disk.
        cursor.execute("PRAGMA cache_size=-131072")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")  # see _Checkpointer
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(store: Store) -> None:
    """Bring the schema to the newest Alembic revision (safe to run from several processes)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.write() as conn:
        if not store.is_sqlite:
            # Two services starting together must not both create the tables.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261207)")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
