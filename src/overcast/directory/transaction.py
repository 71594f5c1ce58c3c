"""One write (or read) transaction over the directory tables.

A :class:`Transaction` is the only code that writes stored objects (reads for listings, the
change log's tail and authentication query the tables too). This module holds reading with its
caches, the scope closure (the ancestors whose listings include an object), savepoints, and the
writes it defers and sends in batches; its parts are :mod:`.uniqueness`, :mod:`.allocations` (counters,
addresses, MACs, name locks) and :mod:`.change_log` (records appended with consecutive
revisions as the last statement before commit). What differs between SQLite and PostgreSQL is
asked of its :class:`~overcast.directory.backends.Backend`, never branched on here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select

from .allocations import Allocations
from .backends import Backend
from .change_log import ChangeLog
from .db import addresses, macs, members, objects, scopes
from .objects import (
    DRIVER_OBJECT_COLUMNS,
    SELECT_OBJECT,
    SELECT_OBJECT_FOR_UPDATE,
    Change,
    Obj,
    Reference,
    driver_obj,
    missing,
    name_of,
    now_ms,
    row_to_obj,
    stored_data,
    time_ordered_uuid,
    ukey_of,
)
from .schema import LEAF_ANCHORS, Entity
from .uniqueness import Uniqueness

# Statements on the hot path, built once: building a Core statement per call costs more than
# SQLite takes to run it.
_ANCESTORS = select(scopes.c.ancestor_id).where(scopes.c.object_id == bindparam("b_id"))


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


class Transaction(Uniqueness, Allocations, ChangeLog):
    """See the module docstring; uniqueness, allocations and the change log are its parts in
    :mod:`.uniqueness`, :mod:`.allocations` and :mod:`.change_log`."""

    def __init__(self, conn: Connection, *, backend: Backend, user_id: str | None = None) -> None:
        self.conn = conn
        self.backend = backend
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
        if not self.backend.concurrent_writers or object_id in self._new_rows or object_id in self._locked:
            lock = False  # one writer at a time / invisible to others / locked already
        if not lock and object_id in self._cache:
            return self._cache[object_id]
        if object_id in self._updates:
            self.flush()  # the locking read must see this transaction's own update
        rows = self.backend.execute(
            self.conn, SELECT_OBJECT_FOR_UPDATE if lock else SELECT_OBJECT, [object_id]
        )
        return self._remember(object_id, rows, locked=lock)

    def _remember(self, object_id: str, rows: list[tuple[Any, ...]], *, locked: bool) -> Obj | None:
        """Cache the object a :data:`SELECT_OBJECT` read found (or its absence)."""
        obj = driver_obj(rows[0]) if rows else None
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
                    object_id, self.backend.batch(self.conn, [(_SELECT_ANCESTOR_OBJECTS, [object_id])])[0]
                )
            return obj
        lock = lock and self.backend.concurrent_writers
        batch = [
            (SELECT_OBJECT_FOR_UPDATE if lock else SELECT_OBJECT, [object_id]),
            (_SELECT_ANCESTOR_OBJECTS, [object_id]),
        ]
        probe = None
        if unique is not None and unique[0].unique_scope == "parent" and unique[1] is not None:
            probe = self._unique_probe(
                unique[0], unique[0].unique_key(unique[1]), parent_id=object_id, enterprise_id=None
            )
            batch.append(probe)
        found, ancestors, *probed = self.backend.batch(self.conn, batch)
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
                self._cache[ancestor_id] = driver_obj(tuple(values))
        self._ancestors[object_id] = frozenset(row[0] for row in rows)

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

    def of_kind(self, kind: str) -> list[Obj]:
        """Every object of a kind (for the rare checks across the whole system)."""
        return self.select(objects.c.kind == kind)

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

    def select_kinds(self, kinds: tuple[str, ...]) -> list[Obj]:
        return self.select(objects.c.kind.in_(kinds))

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
            test, parameters = self.backend.among(chunk)
            for values in self.backend.execute(
                self.conn, f"SELECT {DRIVER_OBJECT_COLUMNS} FROM objects WHERE id {test}", parameters
            ):
                obj = driver_obj(values)
                self._cache[obj.id] = obj
            found: dict[str, set[str]] = {}
            query = f"SELECT object_id, ancestor_id FROM scopes WHERE object_id {test}"
            for object_id, ancestor_id in self.backend.execute(self.conn, query, parameters):
                found.setdefault(object_id, set()).add(ancestor_id)
            for object_id, ancestors in found.items():
                self._ancestors.setdefault(object_id, frozenset(ancestors))

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
            self.backend.delete_scopes(self.conn, sorted(self._scope_deletes), self._pipeline)
            self._scope_deletes.clear()
        if self._new_rows:
            self.backend.insert_rows(self.conn, "objects", self._new_rows.values(), self._pipeline)
            self._new_rows.clear()
            self._row_pos.clear()
        if self._new_scopes:
            self.backend.insert_rows(self.conn, "scopes", self._new_scopes, self._pipeline)
            self._new_scopes.clear()
        if self._updates:
            self.backend.update_objects(self.conn, list(self._updates.values()), self._pipeline)
            self._updates.clear()
        if self._new_addresses:
            self.backend.insert_rows(self.conn, "addresses", self._new_addresses, self._pipeline)
            self._new_addresses.clear()
        if self._new_macs:
            self.backend.insert_rows(self.conn, "macs", self._new_macs, self._pipeline)
            self._new_macs.clear()

    # --- writing ------------------------------------------------------------------------

    def new_id(self) -> str:
        return time_ordered_uuid()

    def insert(self, obj: Obj, links: list[str]) -> None:
        self._unique_answers.clear()
        obj.created = obj.updated = self.now
        obj.owner = obj.last_updated_by = self.user_id
        self._row_pos[obj.id] = len(self._new_rows)
        obj.stored_keys = (name_of(obj), ukey_of(obj), obj.enterprise_id)
        self._new_rows[obj.id] = {
            "id": obj.id,
            "kind": obj.kind,
            "parent_id": obj.parent_id,
            "parent_type": obj.parent_type,
            "enterprise_id": obj.enterprise_id,
            "name": obj.stored_keys[0],
            "ukey": obj.stored_keys[1],
            "data": stored_data(obj),
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
            obj.stored_keys = (name_of(obj), ukey_of(obj), obj.enterprise_id)
            pending.update(
                name=obj.stored_keys[0],
                ukey=obj.stored_keys[1],
                data=stored_data(obj),
                updated=obj.updated,
                enterprise_id=obj.enterprise_id,
            )
            if links is not None:
                self._new_scopes = [r for r in self._new_scopes if r["object_id"] != obj.id]
                self._write_scopes(obj, links)
            self._cache[obj.id] = obj
            return
        keys = (name_of(obj), ukey_of(obj), obj.enterprise_id)
        earlier = self._updates.get(obj.id)
        parameters = {
            "b_id": obj.id,
            "b_name": keys[0],
            "b_ukey": keys[1],
            "b_data": stored_data(obj),
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
        self.backend.update_objects(self.conn, [parameters], self._pipeline)
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


#: An object's ancestors' IDs, each with its object's columns (those of
#: :data:`DRIVER_OBJECT_COLUMNS`, null for a dangling ID); one parameter, the object's ID.
_SELECT_ANCESTOR_OBJECTS = (
    "SELECT s.ancestor_id, "
    + ", ".join(f"o.{c}" for c in DRIVER_OBJECT_COLUMNS.split(", "))
    + " FROM scopes s LEFT JOIN objects o ON o.id = s.ancestor_id WHERE s.object_id = ?"
)
