"""The directory's stored objects as the transaction hands them out, and their identities.

An :class:`Obj` is a row of the ``objects`` table as model data: its place in the tree, its
attributes, and the indexed columns derived from them as stored. IDs are time-ordered UUIDs
(version 7) with random bits from the operating system. Pure apart from the ID generator's
per-thread pool.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import jsoncodec
from .errors import VsdError, conflict, not_found
from .schema import REGISTRY, Entity

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
    return make_obj(
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


#: The columns :func:`driver_obj` reads, in its order.
DRIVER_OBJECT_COLUMNS = "kind, id, parent_id, parent_type, enterprise_id, data, created, updated, name, ukey"
#: One object by ID, through the DB-API cursor (``Transaction.get``: several per request, where
#: SQLAlchemy's statement and result layers cost more than the lookup; on PostgreSQL 150 µs of
#: CPU per statement on this machine).
SELECT_OBJECT = f"SELECT {DRIVER_OBJECT_COLUMNS} FROM objects WHERE id = ?"
SELECT_OBJECT_FOR_UPDATE = SELECT_OBJECT + " FOR UPDATE"


def driver_obj(values: tuple[Any, ...]) -> Obj:
    """An object from a DB-API row of :data:`DRIVER_OBJECT_COLUMNS` (JSON text on SQLite,
    already decoded by psycopg on PostgreSQL)."""
    kind, object_id, parent_id, parent_type, enterprise_id, data, created, updated, name, ukey = values
    data = jsoncodec.loads(data) if isinstance(data, (str, bytes)) else dict(data)
    return make_obj(
        kind, object_id, parent_id, parent_type, enterprise_id, data, created, updated, name, ukey
    )


def make_obj(
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


def stored_data(obj: Obj) -> dict[str, Any]:
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


def name_of(obj: Obj) -> str | None:
    """The value kept in the indexed ``name`` column."""
    name = obj.data.get("name")
    return None if name is None else str(name)[:255]


def ukey_of(obj: Obj) -> str | None:
    """The value kept in the indexed ``ukey`` column: what must be unique in its scope."""
    key = obj.data.get(obj.entity.unique_attr)
    return None if key is None else obj.entity.unique_key(key)
