"""One write (or read) transaction over the directory tables.

A :class:`Transaction` is the only code that issues SQL for objects. It buffers the change-log
records of the operation and appends them with consecutive revisions in :meth:`finish`, as the
last statement before commit: the revision counter's row lock is taken last and held only for
an instant, so revisions are committed in order on PostgreSQL too (a tail never skips a
revision that commits later).
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import jsoncodec
from . import ipam
from .db import GLOBAL_COUNTERS, addresses, changes, counters, macs, members, objects, scopes
from .errors import VsdError, conflict, not_found
from .schema import LEAF_ANCHORS, REGISTRY, Entity

# Statements on the hot path, built once: building a Core statement per call costs more than
# SQLite takes to run it.
_ANCESTORS = select(scopes.c.ancestor_id).where(scopes.c.object_id == bindparam("b_id"))


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

#: From how many rows a PostgreSQL insert goes through COPY rather than an executemany.
_COPY_THRESHOLD = 8

#: Columns stored as JSON (pre-encoded for the driver by :func:`_driver_rows`).
_JSON_COLUMNS = frozenset({"data"})


@functools.cache
def _driver_insert(table_name: str, is_sqlite: bool) -> tuple[str, tuple[str, ...]]:
    """``INSERT`` in the driver's own parameter style, and the column order of its tuples.

    Bulk rows go to the DB-API cursor directly: SQLAlchemy's per-row parameter processing
    (type processors, dictionaries per row) cost more than SQLite spends inserting them.
    """
    table = {t.name: t for t in (objects, scopes, changes, addresses, macs)}[table_name]
    columns = tuple(c.name for c in table.columns if c.name != "pk")
    if is_sqlite:
        values = ", ".join("?" for _ in columns)
    else:
        dialect = postgresql.dialect()  # JSON columns cast to their own type (jsonb, or json)
        values = ", ".join(
            f"CAST(%s AS {table.c[c].type.compile(dialect=dialect)})" if c in _JSON_COLUMNS else "%s"
            for c in columns
        )
    return f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({values})", columns


def _driver_rows(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as the driver's tuples, JSON columns encoded (one C-level getter per row)."""
    values = operator.itemgetter(*columns)
    encoded = [i for i, c in enumerate(columns) if c in _JSON_COLUMNS]
    if not encoded:
        return list(map(values, rows))
    (position,) = encoded  # one JSON column per table
    encode = jsoncodec.dumps
    out = []
    for row in rows:
        found = values(row)
        out.append((*found[:position], encode(found[position]), *found[position + 1 :]))
    return out


#: Kinds whose scope links are fixed at creation (so their ancestors can be cached for good).
STABLE_LINK_KINDS = frozenset(
    {
        "enterprise",
        "domaintemplate",
        "zonetemplate",
        "domain",
        "zone",
        "subnet",
        "l2domain",
        "l2domaintemplate",
        "policygroup",
        "ingressacltemplate",
        "egressacltemplate",
    }
)


class _AncestorCache:
    """A bounded, thread-safe map of object ID -> ancestors, for objects with fixed links."""

    def __init__(self, size: int = 50000) -> None:
        import threading
        from collections import OrderedDict

        self._data: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> frozenset[str] | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: str, value: frozenset[str]) -> None:
        with self._lock:
            self._data[key] = value
            if len(self._data) > self._size:
                self._data.popitem(last=False)


_STABLE_ANCESTORS = _AncestorCache()


_RANDOM = threading.local()
_POOL_BYTES = 10 * 256


def _random_bits_80() -> int:
    """80 bits from a per-thread pool of the OS generator's bytes."""
    local = _RANDOM
    at = getattr(local, "at", _POOL_BYTES)
    if at >= _POOL_BYTES:
        local.pool, at = os.urandom(_POOL_BYTES), 0
    local.at = at + 10
    return int.from_bytes(local.pool[at : at + 10], "big")


# A forked child (an API process) must not reuse its parent's bytes: it starts a new pool.
os.register_at_fork(after_in_child=lambda: _RANDOM.__dict__.clear())


def missing(kinds: tuple[str, ...], object_id: str | None, prop: str = "") -> VsdError:
    """The answer for an ID that names nothing the caller may see: a 409 when an attribute
    named it, else a 404. The same text whether it was never issued or is another tenant's."""
    if prop:
        description = f"{' or '.join(kinds)} with ID {object_id} does not exist."
        return conflict(description, prop=prop, title="Invalid input")
    return not_found(kinds[0], str(object_id))


def time_ordered_uuid() -> str:
    """A version 7 UUID (RFC 9562: 48 bits of Unix milliseconds, then random bits).

    Object IDs are keys of the ID index and of the scope closure: random (version 4) keys land
    on a different B-tree page each, so a bulk commit wrote one page per object per index
    (most of a bulk create's commit time); time-ordered keys append to the same few pages.
    Python 3.11's uuid module has no uuid7 (3.14 adds it), and the layout is a few lines. The
    random bits come from the operating system's generator (``random``'s Mersenne Twister can
    be predicted from outputs a tenant sees), drawn 256 IDs at a time: one ``getrandom`` call
    per 256 IDs instead of one each.
    """
    value = (time.time_ns() // 1_000_000) << 80 | _random_bits_80()
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    digits = f"{value:032x}"  # uuid.UUID(int=...) validates for 30 µs; this is the same text
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def now_ms() -> int:
    return int(time.time() * 1000)


class Reference(str):
    """A link that lists the object without passing on its own ancestors: a container is listed
    under the user who created it, not under that user's enterprise (csproot's containers belong
    to their tenants' enterprises, not to the operator's)."""

    __slots__ = ()


@dataclass
class Obj:
    """A stored object: its place in the tree plus its attributes (``data``, model names)."""

    kind: str
    id: str
    parent_id: str | None
    parent_type: str | None
    enterprise_id: str | None
    data: dict[str, Any]
    created: int = 0
    updated: int = 0
    owner: str | None = None
    last_updated_by: str | None = None
    #: The indexed columns derived from it (name, unique key, enterprise) as the store holds
    #: them once this transaction's writes land; an update that leaves them alone rewrites
    #: ``data`` only (SQLite otherwise rewrites six index entries: 20 µs instead of 5).
    stored_keys: tuple[Any, ...] | None = None

    @property
    def entity(self) -> Entity:
        return REGISTRY.entity(self.kind)

    def to_json(self, *, compact: bool = False) -> dict[str, Any]:
        """The object as VSD sends it: every model attribute, unset ones as null.

        ``compact``: without the unset attributes (what the change log stores: a third of the
        bytes; :func:`expand_json` gives back the full form)."""
        if compact:
            out: dict[str, Any] = {k: v for k, v in self.data.items() if v is not None}
        else:
            out = dict.fromkeys(self.entity.attrs)
            out.update(self.data)
        if "password" in out:
            out["password"] = None  # never echo a password, not even its hash
        out.update(
            ID=self.id,
            parentID=self.parent_id,
            parentType=self.parent_type,
            creationDate=self.created,
            lastUpdatedDate=self.updated,
            owner=self.owner,
            lastUpdatedBy=self.last_updated_by,
            entityScope="GLOBAL" if self.enterprise_id is None else "ENTERPRISE",
        )
        return out


def expand_json(kind: str, compact: dict[str, Any]) -> dict[str, Any]:
    """A compact object JSON (see :meth:`Obj.to_json`) with every model attribute again."""
    entity = REGISTRY.entities.get(kind)
    if entity is None:
        return dict(compact)
    out: dict[str, Any] = dict.fromkeys(entity.attrs)
    out.update(compact)
    return out


def row_to_obj(row: Any) -> Obj:
    """An object from a row of ``select(objects)``."""
    return _make_obj(
        row.kind,
        row.id,
        row.parent_id,
        row.parent_type,
        row.enterprise_id,
        dict(row.data),
        row.created,
        row.updated,
        row.name,
        row.ukey,
    )


#: The columns :func:`_driver_obj` reads, in its order.
_DRIVER_OBJECT_COLUMNS = "kind, id, parent_id, parent_type, enterprise_id, data, created, updated, name, ukey"
#: One object by ID, through the DB-API cursor (``Transaction.get``: several per request, where
#: SQLAlchemy's statement and result layers cost more than the lookup; on PostgreSQL 150 µs of
#: CPU per statement on this machine).
_SELECT_OBJECT = f"SELECT {_DRIVER_OBJECT_COLUMNS} FROM objects WHERE id = ?"
_SELECT_OBJECT_FOR_UPDATE = _SELECT_OBJECT + " FOR UPDATE"


def _driver_obj(values: tuple[Any, ...]) -> Obj:
    """An object from a DB-API row of :data:`_DRIVER_OBJECT_COLUMNS` (JSON text on SQLite,
    already decoded by psycopg on PostgreSQL)."""
    kind, object_id, parent_id, parent_type, enterprise_id, data, created, updated, name, ukey = values
    data = jsoncodec.loads(data) if isinstance(data, (str, bytes)) else dict(data)
    return _make_obj(
        kind, object_id, parent_id, parent_type, enterprise_id, data, created, updated, name, ukey
    )


def _make_obj(
    kind: str,
    object_id: str,
    parent_id: str | None,
    parent_type: str | None,
    enterprise_id: str | None,
    data: dict[str, Any],
    created: int,
    updated: int,
    name: str | None,
    ukey: str | None,
) -> Obj:
    """A stored row's object; ``data`` as stored (a fresh dict this takes over), bookkeeping
    keys included."""
    return Obj(
        kind=kind,
        id=object_id,
        parent_id=parent_id,
        parent_type=parent_type,
        enterprise_id=enterprise_id,
        data=data,
        created=created,
        updated=updated,
        owner=data.pop("_owner", None),
        last_updated_by=data.pop("_lastUpdatedBy", None),
        stored_keys=(name, ukey, enterprise_id),
    )


def _stored(obj: Obj) -> dict[str, Any]:
    data = dict(obj.data)
    data["_owner"] = obj.owner
    data["_lastUpdatedBy"] = obj.last_updated_by
    return data


@dataclass
class Change:
    """A change-log record; the object's JSON is taken at commit time (its final state)."""

    type: str  # CREATE | UPDATE | DELETE | ASSIGN
    obj: Obj
    extra: dict[str, Any] = field(default_factory=dict)


class Transaction:
    def __init__(self, conn: Connection, *, is_sqlite: bool, user_id: str | None = None) -> None:
        self.conn = conn
        self.is_sqlite = is_sqlite
        self.user_id = user_id
        self.now = now_ms()
        self.changes: list[Change] = []
        self._cache: dict[str, Obj | None] = {}
        self._highest: dict[str, int | None] = {}
        self._pending: set[str] = set()
        self._ancestors: dict[str, frozenset[str]] = {}
        #: Rows and names this transaction has locked (PostgreSQL): held until it ends, so taken
        #: once (a bulk create would otherwise lock its subnet and name scope per element).
        self._locked: set[str] = set()
        #: Unique-key probes answered ahead by :meth:`get_with_ancestors`, valid until this
        #: transaction writes anything: (query, parameters) -> whether the key is taken.
        self._unique_answers: dict[tuple[str, tuple[Any, ...]], bool] = {}
        #: Whether cached objects' ``stored_keys`` can be trusted (not after a savepoint rolled
        #: back: objects held across it may describe rows the rollback undid).
        self._keys_known = True
        #: PostgreSQL, while :meth:`finish` writes a small transaction: the DB-API cursor in
        #: pipeline mode that every write goes to (sent together, one round trip).
        self._pipeline: Any = None
        #: Updates of stored objects not written yet (outside savepoints only): id -> parameters.
        self._updates: dict[str, dict[str, Any]] = {}
        #: Bulk, outside savepoints: address and MAC reservations written at flush, MACs in use
        #: per network loaded once and checked in memory.
        self._new_addresses: list[dict[str, Any]] = []
        self._scope_deletes: set[str] = set()  # stored objects whose scope rows are replaced
        self._new_macs: list[dict[str, Any]] = []
        self._mac_sets: dict[str, set[str]] = {}
        # Rows of objects created in this transaction, written in batches (executemany) by
        # flush(): before any query that could see them, and at commit.
        self._new_rows: dict[str, dict[str, Any]] = {}
        self._new_scopes: list[dict[str, Any]] = []
        self._row_pos: dict[str, int] = {}
        # Savepoint bookkeeping for the deferred rows (see savepoint()).
        self._mark: int | None = None
        self._scope_mark = 0
        self._undo: list[tuple[str, dict[str, Any]]] = []
        self._redo_rows: list[dict[str, Any]] = []
        self._redo_scopes: list[dict[str, Any]] = []
        # Bulk mode: unique keys per scope loaded once, then checked in memory.
        self.bulk = False
        self._unique_sets: dict[tuple[str, str | None], set[str]] = {}
        #: Bulk: the unique keys the request's elements claim (see :meth:`expect_unique_keys`).
        self._unique_candidates: frozenset[str] = frozenset()
        self._unique_added: list[tuple[tuple[str, str | None], str]] = []

    # --- reading ------------------------------------------------------------------------

    def get(self, object_id: str | None, *, lock: bool = False) -> Obj | None:
        if not object_id:
            return None
        if self.is_sqlite or object_id in self._new_rows or object_id in self._locked:
            lock = False  # one writer at a time / invisible to others / locked already
        if not lock and object_id in self._cache:
            return self._cache[object_id]
        if object_id in self._updates:
            self.flush()  # the locking read must see this transaction's own update
        rows = self._driver_execute(_SELECT_OBJECT_FOR_UPDATE if lock else _SELECT_OBJECT, [object_id])
        return self._remember(object_id, rows, locked=lock)

    def _remember(self, object_id: str, rows: list[tuple[Any, ...]], *, locked: bool) -> Obj | None:
        """Cache the object a :data:`_SELECT_OBJECT` read found (or its absence)."""
        obj = _driver_obj(rows[0]) if rows else None
        self._cache[object_id] = obj
        if locked and obj is not None:
            self._locked.add(object_id)
        return obj

    def get_with_ancestors(
        self, object_id: str, *, lock: bool = False, unique: tuple[Entity, Any] | None = None
    ) -> Obj | None:
        """:meth:`get`, with the objects whose listings include it loaded as well: what a create
        under it reads next (a vport's subnet, zone and domain). Only the object itself is
        locked; cached objects are kept (they may hold this transaction's changes).

        ``unique``: an entity unique among its parent's children and the value a child is
        about to take — probed with the rest, after the lock, for :meth:`exists_unique` to
        answer from. On PostgreSQL the queries go in pipeline mode: one round trip (the
        transaction's BEGIN included) instead of four."""
        if object_id in self._cache or object_id in self._updates or object_id in self._new_rows:
            obj = self.get(object_id, lock=lock)
            if obj is not None and object_id not in self._ancestors:
                self._load_ancestors(
                    object_id, self._driver_batch([(_SELECT_ANCESTOR_OBJECTS, [object_id])])[0]
                )
            return obj
        lock = lock and not self.is_sqlite
        batch = [
            (_SELECT_OBJECT_FOR_UPDATE if lock else _SELECT_OBJECT, [object_id]),
            (_SELECT_ANCESTOR_OBJECTS, [object_id]),
        ]
        probe = None
        if unique is not None and unique[0].unique_scope == "parent" and unique[1] is not None:
            probe = self._unique_probe(
                unique[0], unique[0].unique_key(unique[1]), parent_id=object_id, enterprise_id=None
            )
            batch.append(probe)
        found, ancestors, *probed = self._driver_batch(batch)
        obj = self._remember(object_id, found, locked=lock)
        if obj is None:
            return None
        self._load_ancestors(object_id, ancestors)
        if probe is not None:
            self._unique_answers[(probe[0], tuple(probe[1]))] = bool(probed[0])
        return obj

    def _load_ancestors(self, object_id: str, rows: list[tuple[Any, ...]]) -> None:
        """Cache the rows of :data:`_SELECT_ANCESTOR_OBJECTS`: the ancestors' IDs and objects."""
        for ancestor_id, *values in rows:
            if values[1] is not None and ancestor_id not in self._cache:
                self._cache[ancestor_id] = _driver_obj(tuple(values))
        self._ancestors[object_id] = frozenset(row[0] for row in rows)

    def _driver_sql(self, sql: str) -> str:
        """A statement written with ``?`` marks in the driver's style (binary parameters on
        PostgreSQL: see :meth:`_driver_execute`)."""
        return sql if self.is_sqlite else sql.replace("?", "%b")

    def _driver_batch(self, statements: list[tuple[str, list[Any]]]) -> list[list[tuple[Any, ...]]]:
        """The rows of each query (``?`` marks); on PostgreSQL sent together in pipeline mode."""
        if self.is_sqlite or len(statements) == 1:
            return [self._driver_execute(sql, parameters) for sql, parameters in statements]
        raw = self.conn.connection.driver_connection
        assert raw is not None
        cursors = [raw.cursor() for _ in statements]
        try:
            with raw.pipeline():
                for cursor, (sql, parameters) in zip(cursors, statements, strict=True):
                    cursor.execute(self._driver_sql(sql), parameters)
            return [list(cursor.fetchall()) for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

    def need(self, object_id: str | None, kind: str | tuple[str, ...], *, prop: str = "") -> Obj:
        """The object with that ID and kind, or a 409 (when named by an attribute) / 404."""
        kinds = (kind,) if isinstance(kind, str) else kind
        obj = self.get(object_id)
        if obj is None or obj.kind not in kinds:
            raise missing(kinds, object_id, prop)
        return obj

    def select(self, where: Any, *, order: Any = None, limit: int | None = None) -> list[Obj]:
        self.flush()
        query = select(objects).where(where).order_by(*(order or [objects.c.pk]))
        if limit is not None:
            query = query.limit(limit)
        found = [row_to_obj(row) for row in self.conn.execute(query)]
        for obj in found:
            self._cache[obj.id] = obj
        return found

    def children(self, parent_id: str, kind: str | None = None) -> list[Obj]:
        where = objects.c.parent_id == parent_id
        if kind is not None:
            where = and_(where, objects.c.kind == kind)
        return self.select(where)

    def descendants(self, ancestor_id: str, kind: str) -> list[Obj]:
        ids = select(scopes.c.object_id).where(scopes.c.ancestor_id == ancestor_id, scopes.c.kind == kind)
        # The scope rows carry the kind; filtering objects by kind too makes SQLite scan the kind.
        return self.select(objects.c.id.in_(ids))

    def find(self, kind: str, attr: str, value: Any) -> list[Obj]:
        column = objects.c.name if attr == "name" else objects.c.data[attr].as_string()
        return self.select(and_(objects.c.kind == kind, column == value))

    def exists_unique(
        self,
        entity: Entity,
        value: Any,
        *,
        parent_id: str | None,
        enterprise_id: str | None,
        exclude: str | None = None,
    ) -> bool:
        key = entity.unique_key(value)
        if self.bulk and exclude is None and key in self._unique_candidates:
            return key in self._unique_set(entity, parent_id, enterprise_id)
        self.flush()
        sql, parameters = self._unique_probe(entity, key, parent_id, enterprise_id, exclude)
        known = self._unique_answers.pop((sql, tuple(parameters)), None)
        if known is not None:
            return known
        return bool(self._driver_execute(sql, parameters))

    @staticmethod
    def _unique_probe(
        entity: Entity, key: str, parent_id: str | None, enterprise_id: str | None, exclude: str | None = None
    ) -> tuple[str, list[Any]]:
        """The query finding another object of ``entity`` holding ``key`` in its scope."""
        where, parameters = _unique_where(entity, parent_id, enterprise_id)
        sql = f"SELECT id FROM objects WHERE {where} AND ukey = ? AND id != ? LIMIT 1"
        return sql, [*parameters, key, exclude or ""]

    def _unique_scope_key(
        self, entity: Entity, parent_id: str | None, enterprise_id: str | None
    ) -> tuple[str, str | None]:
        scope = {"parent": parent_id, "enterprise": enterprise_id}.get(entity.unique_scope or "")
        return entity.rest_name, scope

    def expect_unique_keys(self, entity: Entity, keys: Iterable[Any]) -> None:
        """Bulk: name the unique keys the elements will claim. A scope's taken keys are then
        loaded for these only (one indexed query per scope) rather than all of them, which grow
        with the directory (every container's UUID, for each array of containers). A key
        checked that is not among them is probed alone."""
        self._unique_candidates = frozenset(entity.unique_key(k) for k in keys if k is not None)

    def _unique_set(self, entity: Entity, parent_id: str | None, enterprise_id: str | None) -> set[str]:
        """The expected unique keys already taken in a scope (bulk mode: one query, then
        memory; :meth:`insert` adds the keys it takes)."""
        key = self._unique_scope_key(entity, parent_id, enterprise_id)
        found = self._unique_sets.get(key)
        if found is None:
            self.flush()
            where, parameters = _unique_where(entity, parent_id, enterprise_id)
            candidates = sorted(self._unique_candidates)
            if self.is_sqlite:
                among = "IN (SELECT value FROM json_each(?))"
                parameters.append(jsoncodec.dumps(candidates))
            else:
                among = "= ANY(?)"
                parameters.append(candidates)
            sql = f"SELECT ukey FROM objects WHERE {where} AND ukey {among}"
            found = {r[0] for r in self._driver_execute(sql, parameters)}
            self._unique_sets[key] = found
        return found

    def select_kinds_in_enterprise(self, kinds: tuple[str, ...], enterprise_id: str) -> list[Obj]:
        return self.select(and_(objects.c.kind.in_(kinds), objects.c.enterprise_id == enterprise_id))

    def count_kind(self, kind: str) -> int:
        """How many objects of a kind the store holds (an index range: the kind leads an index)."""
        self.flush()
        return int(self.conn.execute(select(func.count()).where(objects.c.kind == kind)).scalar_one())

    def count_in_scope(self, ancestor_id: str, kind: str) -> int:
        """How many objects of a kind an object's listings include (an index lookup)."""
        self.flush()
        query = (
            select(func.count())
            .select_from(scopes)
            .where(scopes.c.ancestor_id == ancestor_id, scopes.c.kind == kind)
        )
        return int(self.conn.execute(query).scalar_one())

    def prefetch(self, object_ids: Iterable[str]) -> None:
        """Load objects and their ancestors in a few queries (bulk creates name many)."""
        missing = sorted({i for i in object_ids if i and i not in self._cache})
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            # SQLite: a mark per ID; PostgreSQL: one array (psycopg rewrites every mark per call).
            parameters: list[Any]
            if self.is_sqlite:
                test, parameters = f"IN ({', '.join('?' for _ in chunk)})", chunk
            else:
                test, parameters = "= ANY(?)", [chunk]
            for values in self._driver_execute(
                f"SELECT {_DRIVER_OBJECT_COLUMNS} FROM objects WHERE id {test}", parameters
            ):
                obj = _driver_obj(values)
                self._cache[obj.id] = obj
            found: dict[str, set[str]] = {}
            query = f"SELECT object_id, ancestor_id FROM scopes WHERE object_id {test}"
            for object_id, ancestor_id in self._driver_execute(query, parameters):
                found.setdefault(object_id, set()).add(ancestor_id)
            for object_id, ancestors in found.items():
                self._ancestors.setdefault(object_id, frozenset(ancestors))

    def _driver_execute(
        self, sql: str, parameters: list[Any], *, returns_rows: bool = True
    ) -> list[tuple[Any, ...]]:
        """Rows of a statement written with ``?`` marks, straight from this transaction's DB-API
        cursor: for reads of many rows, SQLAlchemy's result layer (a fetch and a Row per row)
        costs more than the database spends finding them. On PostgreSQL the parameters go in
        binary (``%b``): psycopg's text form of an array escapes every element in Python,
        eight times slower."""
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(self._driver_sql(sql), parameters)
            return list(cursor.fetchall()) if returns_rows else []
        finally:
            cursor.close()

    def ancestors(self, object_id: str) -> frozenset[str]:
        """Every ID whose listings include this object (cached for the transaction, and across
        transactions for objects whose links never change)."""
        found = self._ancestors.get(object_id)
        if found is None:
            found = _STABLE_ANCESTORS.get(object_id)
        if found is None:  # (an empty set is an answer too: a root object, or an unknown ID)
            found = frozenset(r[0] for r in self.conn.execute(_ANCESTORS, {"b_id": object_id}))
            self._ancestors[object_id] = found
            obj = self._cache.get(object_id)
            if obj is not None and obj.kind in STABLE_LINK_KINDS:
                _STABLE_ANCESTORS.put(object_id, found)
        return found

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Run a step that may fail alone: on error, its writes and buffered records go.

        Deferred rows are not in the database, so the database savepoint alone cannot undo the
        step: rows the step added are dropped; earlier steps' deferred rows that the step changed
        come back from an undo log; and earlier steps' rows that a flush wrote inside the step's
        savepoint (rolled back with it) are queued again. One level only.
        """
        if self._mark is not None:
            raise RuntimeError("savepoints do not nest")
        if self._updates or self._scope_deletes or self._new_addresses or self._new_macs:
            self.flush()  # deferred before the step: written now, outside what it may undo
        changes, pending, locked = len(self.changes), set(self._pending), set(self._locked)
        self._mark, self._scope_mark = len(self._new_rows), len(self._new_scopes)
        self._undo, self._redo_rows, self._redo_scopes, self._unique_added = [], [], [], []
        nested = self.conn.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            del self.changes[changes:]
            self._pending = pending
            self._locked = locked  # PostgreSQL releases the locks a rolled-back savepoint took
            self._unique_answers.clear()
            self._keys_known = False
            for object_id in list(self._new_rows)[self._mark :]:
                del self._new_rows[object_id]
                del self._row_pos[object_id]
            del self._new_scopes[self._scope_mark :]
            redo_rows = {row["id"]: row for row in self._redo_rows}
            redo_rows.update(self._new_rows)
            for object_id, row in reversed(self._undo):
                redo_rows[object_id] = row
            self._new_rows = redo_rows
            self._row_pos = {object_id: i for i, object_id in enumerate(redo_rows)}
            self._new_scopes = self._redo_scopes + self._new_scopes
            for set_key, value in self._unique_added:
                self._unique_sets.get(set_key, set()).discard(value)
            self._mark = None
            # Earlier steps' rows go to the database now, outside the failed savepoint, so that
            # clearing the caches below cannot make them look absent.
            self.flush()
            self._cache.clear()
            self._highest.clear()
            self._ancestors.clear()
            raise
        else:
            nested.commit()
        finally:
            self._mark = None
            self._undo, self._redo_rows, self._redo_scopes, self._unique_added = [], [], [], []

    def flush(self) -> None:
        """Write the deferred rows (one executemany per table)."""
        if self._mark is not None:
            # Inside a savepoint: earlier steps' rows are about to be written where a failure of
            # this step would roll them back; keep copies to queue them again (see savepoint()).
            self._redo_rows.extend(list(self._new_rows.values())[: self._mark])
            self._redo_scopes.extend(self._new_scopes[: self._scope_mark])
            self._mark, self._scope_mark = 0, 0
        if self._scope_deletes:
            stale = sorted(self._scope_deletes)
            if self._pipeline is not None:
                self._pipeline.execute("DELETE FROM scopes WHERE object_id = ANY(%b)", [stale])
            else:
                for start in range(0, len(stale), 500):
                    chunk = stale[start : start + 500]
                    self.conn.execute(delete(scopes).where(scopes.c.object_id.in_(chunk)))
            self._scope_deletes.clear()
        if self._new_rows:
            self._insert_many("objects", self._new_rows.values())
            self._new_rows.clear()
            self._row_pos.clear()
        if self._new_scopes:
            self._insert_many("scopes", self._new_scopes)
            self._new_scopes.clear()
        if self._updates:
            self._update_many(self._updates.values())
            self._updates.clear()
        if self._new_addresses:
            self._insert_many("addresses", self._new_addresses)
            self._new_addresses.clear()
        if self._new_macs:
            self._insert_many("macs", self._new_macs)
            self._new_macs.clear()

    def _update_many(self, parameters: Iterable[dict[str, Any]]) -> None:
        """Updates of stored objects, through the cursor like :meth:`_insert_many`."""
        encode = jsoncodec.dumps
        if self.is_sqlite:
            parameters = list(parameters)
            data_only = [
                (encode(p["b_data"]), p["b_updated"], p["b_id"]) for p in parameters if not p["b_keys"]
            ]
            if data_only:
                self.conn.exec_driver_sql("UPDATE objects SET data = ?, updated = ? WHERE id = ?", data_only)  # type: ignore[arg-type]
            parameters = [p for p in parameters if p["b_keys"]]
            if not parameters:
                return
        sql = (
            "UPDATE objects SET name = ?, ukey = ?, data = ?, updated = ?, enterprise_id = ? WHERE id = ?"
            if self.is_sqlite
            else "UPDATE objects SET name = %s, ukey = %s, data = CAST(%s AS JSONB), updated = %s, "
            "enterprise_id = %s WHERE id = %s"
        )
        rows = [
            (p["b_name"], p["b_ukey"], encode(p["b_data"]), p["b_updated"], p["b_enterprise"], p["b_id"])
            for p in parameters
        ]
        if self._executemany(sql, rows):
            return
        # PostgreSQL: one statement joining the new values as arrays (as COPY for inserts).
        self._driver_execute(
            "UPDATE objects AS o SET name = v.name, ukey = v.ukey, data = CAST(v.data AS JSONB), "
            "updated = v.updated, enterprise_id = v.enterprise_id FROM unnest("
            "CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]), "
            "CAST(? AS TEXT[]), CAST(? AS TEXT[])) AS v(name, ukey, data, updated, enterprise_id, id) "
            "WHERE o.id = v.id",
            [list(column) for column in zip(*rows, strict=True)],
            returns_rows=False,
        )

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> bool:
        """Send rows with one executemany where that is the way — into the pipeline of a small
        PostgreSQL transaction (:meth:`finish`), on SQLite, or a few rows on PostgreSQL — and
        say so; False leaves them to the caller's bulk statement."""
        if self._pipeline is not None:
            self._pipeline.executemany(sql, rows)
            return True
        if self.is_sqlite or len(rows) < _COPY_THRESHOLD:
            self.conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]
            return True
        return False

    def _insert_many(self, table_name: str, rows: Iterable[dict[str, Any]]) -> None:
        sql, columns = _driver_insert(table_name, self.is_sqlite)
        values = _driver_rows(columns, rows)
        if self._executemany(sql, values):
            return
        # PostgreSQL: COPY, one statement for the lot (an executemany, even pipelined, runs the
        # executor once per row: 70 % of a bulk create's time was the server doing that).
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        finally:
            cursor.close()

    # --- writing ------------------------------------------------------------------------

    def new_id(self) -> str:
        return time_ordered_uuid()

    def insert(self, obj: Obj, links: list[str]) -> None:
        self._unique_answers.clear()
        obj.created = obj.updated = self.now
        obj.owner = obj.last_updated_by = self.user_id
        self._row_pos[obj.id] = len(self._new_rows)
        obj.stored_keys = (_name_of(obj), _ukey_of(obj), obj.enterprise_id)
        self._new_rows[obj.id] = {
            "id": obj.id,
            "kind": obj.kind,
            "parent_id": obj.parent_id,
            "parent_type": obj.parent_type,
            "enterprise_id": obj.enterprise_id,
            "name": obj.stored_keys[0],
            "ukey": obj.stored_keys[1],
            "data": _stored(obj),
            "created": obj.created,
            "updated": obj.updated,
        }
        self._write_scopes(obj, links)
        self._cache[obj.id] = obj
        if self.bulk:
            entity = obj.entity
            if entity.unique_scope is not None and obj.data.get(entity.unique_attr) is not None:
                set_key = self._unique_scope_key(entity, obj.parent_id, obj.enterprise_id)
                if set_key in self._unique_sets:
                    value = entity.unique_key(obj.data[entity.unique_attr])
                    self._unique_sets[set_key].add(value)
                    self._unique_added.append((set_key, value))

    def save(self, obj: Obj, links: list[str] | None = None) -> None:
        """Write an object's attributes (and its scope links when given)."""
        self._unique_answers.clear()
        obj.updated = self.now
        obj.last_updated_by = self.user_id
        pending = self._new_rows.get(obj.id)
        if pending is not None:
            if self._mark is not None and self._row_pos[obj.id] < self._mark:
                self._undo.append((obj.id, dict(pending)))
            obj.stored_keys = (_name_of(obj), _ukey_of(obj), obj.enterprise_id)
            pending.update(
                name=obj.stored_keys[0],
                ukey=obj.stored_keys[1],
                data=_stored(obj),
                updated=obj.updated,
                enterprise_id=obj.enterprise_id,
            )
            if links is not None:
                self._new_scopes = [r for r in self._new_scopes if r["object_id"] != obj.id]
                self._write_scopes(obj, links)
            self._cache[obj.id] = obj
            return
        keys = (_name_of(obj), _ukey_of(obj), obj.enterprise_id)
        earlier = self._updates.get(obj.id)
        parameters = {
            "b_id": obj.id,
            "b_name": keys[0],
            "b_ukey": keys[1],
            "b_data": _stored(obj),
            "b_updated": obj.updated,
            "b_enterprise": obj.enterprise_id,
            # Whether the indexed columns change (or a deferred update this one replaces did).
            "b_keys": not self._keys_known or keys != obj.stored_keys or bool(earlier and earlier["b_keys"]),
        }
        obj.stored_keys = keys
        if self._mark is None:
            # Deferred (one executemany at flush); never inside a savepoint, whose undo log
            # covers new rows only. New links: the old scope rows go first at flush, then the
            # new ones (kept in memory until then: ancestors() reads them from the cache).
            self._updates[obj.id] = parameters
            if links is not None:
                if obj.id in self._scope_deletes:  # relinked before in this transaction
                    self._new_scopes = [r for r in self._new_scopes if r["object_id"] != obj.id]
                self._scope_deletes.add(obj.id)
                self._write_scopes(obj, links)
            self._cache[obj.id] = obj
            return
        self._updates.pop(obj.id, None)
        self._update_many([parameters])
        if links is not None:
            self._new_scopes = [r for r in self._new_scopes if r["object_id"] != obj.id]
            self.conn.execute(delete(scopes).where(scopes.c.object_id == obj.id))
            self._write_scopes(obj, links)
        self._cache[obj.id] = obj

    def _write_scopes(self, obj: Obj, links: list[str]) -> None:
        ancestors: set[str] = set()
        anchor = LEAF_ANCHORS.get(obj.kind)
        for link in links:
            if not link:
                continue
            if anchor is not None:  # a leaf: rows for its anchors and references only
                if isinstance(link, Reference):  # (see schema.LEAF_ANCHORS)
                    ancestors.add(link)
                    continue
                found = self.get(link)
                if found is not None and found.kind == anchor:
                    ancestors.add(link)
                continue
            ancestors.add(link)
            if not isinstance(link, Reference):
                ancestors |= self.ancestors(link)
        self._ancestors[obj.id] = frozenset(ancestors)
        self._new_scopes.extend(
            {"ancestor_id": a, "kind": obj.kind, "object_id": obj.id} for a in sorted(ancestors)
        )

    def remove(self, obj: Obj) -> None:
        self.flush()
        self._ancestors.pop(obj.id, None)
        self.conn.execute(delete(objects).where(objects.c.id == obj.id))
        self.conn.execute(
            delete(scopes).where(or_(scopes.c.object_id == obj.id, scopes.c.ancestor_id == obj.id))
        )
        self.conn.execute(
            delete(members).where(or_(members.c.parent_id == obj.id, members.c.child_id == obj.id))
        )
        self.conn.execute(delete(addresses).where(addresses.c.owner_id == obj.id))
        self.conn.execute(delete(macs).where(macs.c.owner_id == obj.id))
        self._cache[obj.id] = None

    # --- associations -------------------------------------------------------------------

    def member_ids(self, relation: str, object_id: str, *, of_parent: bool) -> list[str]:
        if of_parent:
            query = select(members.c.child_id).where(
                members.c.relation == relation, members.c.parent_id == object_id
            )
        else:
            query = select(members.c.parent_id).where(
                members.c.relation == relation, members.c.child_id == object_id
            )
        return [r[0] for r in self.conn.execute(query)]

    def set_members(self, relation: str, object_id: str, other_ids: list[str], *, of_parent: bool) -> None:
        mine, theirs = ("parent_id", "child_id") if of_parent else ("child_id", "parent_id")
        self.conn.execute(delete(members).where(members.c.relation == relation, members.c[mine] == object_id))
        if other_ids:
            self.conn.execute(
                insert(members),
                [{"relation": relation, mine: object_id, theirs: other} for other in other_ids],
            )

    # --- counters and addresses -----------------------------------------------------------

    def _ensure_counter(self, name: str, start: int) -> None:
        dialect = sqlite if self.is_sqlite else postgresql
        self.conn.execute(dialect.insert(counters).values(name=name, value=start).on_conflict_do_nothing())

    def allocate(self, counter: str) -> int:
        """The next value of a system-wide counter (``GLOBAL_COUNTERS``): unique, never reused."""
        if self.is_sqlite:
            return self.next_value(counter, GLOBAL_COUNTERS[counter])
        return int(self.conn.execute(text(f"SELECT nextval('oc_seq_{counter.lower()}')")).scalar_one())

    def next_value(self, name: str, start: int = 1, count: int = 1) -> int:
        """Take ``count`` consecutive values of a named counter; the first is returned.

        The ``UPDATE`` row-locks the counter until commit, which is what serialises writers
        that share one (the per-domain policy-group tags, the change-log revision).
        """
        bumped = self.conn.execute(
            update(counters)
            .where(counters.c.name == name)
            .values(value=counters.c.value + count)
            .returning(counters.c.value)
        ).scalar()
        if bumped is not None:
            return int(bumped) - count
        # First use; on PostgreSQL a concurrent first use fails one writer (23505), retried.
        self.conn.execute(insert(counters).values(name=name, value=start + count))
        return start

    def lock_name(self, name: str) -> None:
        """Serialise writers on a name (e.g. uniqueness across the whole system)."""
        key = f"lock:{name}"
        if not self.is_sqlite and key not in self._locked:
            self._ensure_counter(key, 0)
            self.conn.execute(select(counters.c.value).where(counters.c.name == key).with_for_update())
            self._locked.add(key)

    def allocate_address(
        self,
        network_obj: Obj,
        network: ipaddress.IPv4Network,
        owner_id: str,
        *,
        requested: str | None,
        reserved: set[int],
    ) -> str:
        """Reserve ``requested`` or the next free address of a network, for ``owner_id``."""
        self.get(network_obj.id, lock=True)  # serialise allocators of this network
        if requested:
            value = ipam.check_requested(network, requested, reserved)
            if self.address_in_use(network_obj.id, value):
                raise conflict(f"IP address {requested} is already in use.", prop="IPAddress")
        else:
            if network_obj.id not in self._highest:
                self._highest[network_obj.id] = self.conn.execute(
                    select(func.max(addresses.c.address)).where(addresses.c.network_id == network_obj.id)
                ).scalar()
            highest = self._highest[network_obj.id]
            chosen = ipam.pick_free(network, reserved, highest, lambda: self._used(network_obj.id))
            if chosen is None:
                raise conflict(
                    f"No free IP address left in {network} ({network_obj.data.get('name')}).",
                    prop="IPAddress",
                    title="Address pool exhausted",
                )
            value = chosen
        row = {"network_id": network_obj.id, "address": value, "owner_id": owner_id}
        if self._deferring:
            self._new_addresses.append(row)
        else:
            self.conn.execute(insert(addresses).values(**row))
        current = self._highest.get(network_obj.id)
        if network_obj.id in self._highest and (current is None or value > current):
            self._highest[network_obj.id] = value
        return ipam.to_text(value)

    @property
    def _deferring(self) -> bool:
        """Whether reservations may wait for the flush: a bulk create outside savepoints (its
        all-or-nothing attempt; a failure rolls the whole transaction back)."""
        return self.bulk and self._mark is None

    def _used(self, network_id: str) -> list[int]:
        self.flush()
        rows = self._driver_execute("SELECT address FROM addresses WHERE network_id = ?", [network_id])
        return [r[0] for r in rows]

    def reserve_mac(self, network_id: str, mac: str, owner_id: str) -> bool:
        """Take a MAC in an L2 network for ``owner_id``; False when another holds it."""
        if self._deferring:
            taken = self._mac_sets.get(network_id)
            if taken is None:
                self.flush()
                rows = self._driver_execute("SELECT mac FROM macs WHERE network_id = ?", [network_id])
                taken = self._mac_sets[network_id] = {r[0] for r in rows}
            if mac in taken:
                return False
            taken.add(mac)
            self._new_macs.append({"network_id": network_id, "mac": mac, "owner_id": owner_id})
            return True
        dialect = sqlite if self.is_sqlite else postgresql
        inserted = self.conn.execute(
            dialect.insert(macs).on_conflict_do_nothing().returning(macs.c.mac),
            {"network_id": network_id, "mac": mac, "owner_id": owner_id},
        ).first()
        return inserted is not None

    def address_in_use(self, network_id: str, value: int) -> bool:
        self.flush()
        return (
            self.conn.execute(
                select(addresses.c.owner_id).where(
                    addresses.c.network_id == network_id, addresses.c.address == value
                )
            ).first()
            is not None
        )

    def count_addresses(self, network_id: str) -> int:
        self.flush()
        return int(
            self.conn.execute(
                select(func.count()).select_from(addresses).where(addresses.c.network_id == network_id)
            ).scalar_one()
        )

    # --- change log -----------------------------------------------------------------------

    def record(self, change_type: str, obj: Obj, **extra: Any) -> None:
        if change_type == "UPDATE" and obj.id in self._pending:
            return  # the pending record will carry the final state
        if change_type in ("CREATE", "UPDATE"):
            self._pending.add(obj.id)
        self.changes.append(Change(change_type, obj, extra))

    def finish(self) -> int | None:
        """Write deferred rows, append the buffered changes with consecutive revisions; return
        the last revision."""
        if not self.is_sqlite and self.changes and self._fits_one_round_trip():
            return self._finish_in_one_round_trip()
        self.flush()
        if not self.changes:
            return None
        first = self._reserve_revisions(len(self.changes))
        records = [self._change_record(change) for change in self.changes]
        rows = [{"revision": first + offset, **record} for offset, record in enumerate(records)]
        self._insert_many("changes", rows)
        if not self.is_sqlite:
            self.conn.exec_driver_sql("NOTIFY overcast_changes")
        return first + len(self.changes) - 1

    def _change_record(self, change: Change) -> dict[str, Any]:
        """A change-log row but its revision."""
        data = change.obj.to_json(compact=True)
        data.update(change.extra)
        return {
            "created": self.now,
            "type": change.type,
            "entity_type": change.obj.kind,
            "entity_id": change.obj.id,
            "parent_type": change.obj.parent_type,
            "parent_id": change.obj.parent_id,
            "enterprise_id": change.obj.enterprise_id,
            "user_id": self.user_id,
            "data": data,
        }

    def _fits_one_round_trip(self) -> bool:
        """Whether every deferred write is small enough for an executemany (COPY, which larger
        ones take, cannot run in pipeline mode)."""
        pending = (self._new_rows, self._new_scopes, self._updates, self._new_addresses, self._new_macs)
        return all(len(p) < _COPY_THRESHOLD for p in pending) and len(self.changes) < _COPY_THRESHOLD

    def _finish_in_one_round_trip(self) -> int:
        """PostgreSQL: the deferred rows, the change log and its notification, sent in pipeline
        mode — one round trip instead of one per statement (a single create took five here).
        The revisions come from the counter row inside the statement that inserts the log."""
        records = [self._change_record(change) for change in self.changes]
        columns = ("created", "type", "entity_type", "entity_id", "parent_type", "parent_id", "enterprise_id")
        arrays = [[r[c] for r in records] for c in columns]
        arrays += [[r["user_id"] for r in records], [jsoncodec.dumps(r["data"]) for r in records]]
        raw = self.conn.connection.driver_connection
        assert raw is not None
        log = raw.cursor()
        with raw.pipeline(), raw.cursor() as cursor:
            self._pipeline = cursor
            try:
                self.flush()
            finally:
                self._pipeline = None
            log.execute(_APPEND_CHANGES, [len(records), len(records), *arrays])
            cursor.execute("NOTIFY overcast_changes")
        revisions = [int(row[0]) for row in log.fetchall()]
        log.close()
        if len(revisions) != len(records):  # no counter row yet: the first change ever
            first = self.next_value("revision", 1, len(records))
            self._insert_many("changes", [{"revision": first + i, **r} for i, r in enumerate(records)])
            return first + len(records) - 1
        return max(revisions)

    def _reserve_revisions(self, count: int) -> int:
        if self.is_sqlite:
            # The write transaction holds SQLite's only write lock: the log's own maximum is safe.
            head = self.conn.execute(_HEAD_REVISION).scalar()
            return int(head or 0) + 1
        # PostgreSQL: the counter row's lock, taken last, orders commits by revision.
        return self.next_value("revision", 1, count)


#: An object's ancestors' IDs, each with its object's columns (those of
#: :data:`_DRIVER_OBJECT_COLUMNS`, null for a dangling ID); one parameter, the object's ID.
_SELECT_ANCESTOR_OBJECTS = (
    "SELECT s.ancestor_id, "
    + ", ".join(f"o.{c}" for c in _DRIVER_OBJECT_COLUMNS.split(", "))
    + " FROM scopes s LEFT JOIN objects o ON o.id = s.ancestor_id WHERE s.object_id = ?"
)


def _unique_where(entity: Entity, parent_id: str | None, enterprise_id: str | None) -> tuple[str, list[Any]]:
    """The objects sharing an entity's uniqueness scope (SQL with ``?`` marks, parameters)."""
    column, value = {"parent": ("parent_id", parent_id), "enterprise": ("enterprise_id", enterprise_id)}.get(
        entity.unique_scope or "", (None, None)
    )
    if column is None:
        return "kind = ?", [entity.rest_name]
    if value is None:  # a root object's scope is "no parent": IS NULL (= NULL matches nothing)
        return f"kind = ? AND {column} IS NULL", [entity.rest_name]
    return f"kind = ? AND {column} = ?", [entity.rest_name, value]


def _name_of(obj: Obj) -> str | None:
    """The value kept in the indexed ``name`` column."""
    name = obj.data.get("name")
    return None if name is None else str(name)[:255]


def _ukey_of(obj: Obj) -> str | None:
    """The value kept in the indexed ``ukey`` column: what must be unique in its scope."""
    key = obj.data.get(obj.entity.unique_attr)
    return None if key is None else obj.entity.unique_key(key)
