"""The directory's interface for controllers: the controller imports nothing else of it.

* Reading, as plain data: a consistent snapshot of the objects of some kinds and the policy
  groups' members (:func:`snapshot`), then the change log after a revision
  (:func:`changes_after`); :func:`assigned_kind` names the kind an ASSIGN record is about.
* Writing, through the directory's own transactions (so every write lands in the change log):
  hosts and their runtimes' endpoints (:mod:`.host_records`, re-exported here); statistics
  samples (:mod:`.statistics_store`), beside the change log.
* Who is asking: :class:`Directory` authenticates (``authenticate``, ``login``), and reads as a
  principal (``get``) — the same checks as the REST API's.

Blocking (SQL): a controller calls these from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select

from .db import Store, changes, default_sqlite_url, members, migrate, objects
from .errors import VsdError
from .host_records import (
    HOST_MARK,
    NO_CREDENTIALS,
    ClaimResult,
    CreatedEndpoint,
    EndpointClaim,
    EndpointRefused,
    EndpointSpec,
    NotThisHosts,
    TooManyHosts,
    claim_endpoints,
    claim_endpoints_of_hosts,
    create_endpoint,
    ensure_subnet,
    mark_host_down,
    record_gateway,
    register_host,
    remove_endpoint,
)
from .objects import row_to_obj
from .schema import REGISTRY
from .service import SYSTEM, Directory, Principal
from .statistics_store import prune_samples, roll_up, write_samples

__all__ = [
    "HOST_MARK", "NO_CREDENTIALS", "SYSTEM", "ClaimResult", "CreatedEndpoint", "Directory", "EndpointClaim",
    "EndpointRefused", "EndpointSpec", "NotThisHosts", "Principal", "Snapshot", "TooManyHosts", "VsdError",
    "assigned_kind", "changes_after", "claim_endpoints", "claim_endpoints_of_hosts", "create_endpoint",
    "ensure_subnet", "mark_host_down", "open_directory", "record_gateway", "register_host", "remove_endpoint",
    "prune_samples", "roll_up", "snapshot", "write_samples",
]  # fmt: skip

T = TypeVar("T")


def open_directory(database_url: str | None, state_dir: Any = None) -> Directory:
    """The directory over a store (migrated to the current schema), for a controller process.
    ``database_url`` None: the embedded SQLite store in ``state_dir``."""
    store = Store(database_url or default_sqlite_url(state_dir))
    migrate(store)
    return Directory(store)


@dataclass
class Snapshot:
    revision: int  # every object and membership is as of this change-log revision
    objects: list[Any]  # what ``project`` made of each object, in no particular order
    members: dict[str, frozenset[str]]  # group ID -> member IDs


def snapshot(
    directory: Directory, kinds: Iterable[str], project: Callable[[str, dict[str, Any]], T]
) -> Snapshot:
    """Every object of ``kinds`` (``project(kind, json)`` of each, applied as it is read: the full
    JSON of every endpoint at once would triple a controller's peak memory) and every group's
    members, in one repeatable-read transaction."""
    wanted = tuple(kinds)
    with directory.store.read(snapshot=True) as conn:
        revision = int(conn.execute(select(func.max(changes.c.revision))).scalar() or 0)
        out = []
        for row in conn.execute(select(objects).where(objects.c.kind.in_(wanted))):
            obj = row_to_obj(row)
            out.append(project(obj.kind, obj.to_json()))
        grouped: dict[str, set[str]] = {}
        for row in conn.execute(select(members.c.parent_id, members.c.child_id)):
            grouped.setdefault(row.parent_id, set()).add(row.child_id)
    return Snapshot(revision, out, {group: frozenset(ids) for group, ids in grouped.items()})


def changes_after(directory: Directory, revision: int, limit: int = 5000) -> list[dict[str, Any]]:
    """Change-log records after ``revision``, in order: ``revision``, ``type`` (CREATE, UPDATE,
    DELETE, ASSIGN), ``entity_type``, ``entity_id``, ``data`` (the object's JSON, compact: unset
    attributes left out; an ASSIGN's ``assignedEntityType`` and ``memberIDs``)."""
    with directory.store.read() as conn:
        rows = conn.execute(
            select(
                changes.c.revision, changes.c.type, changes.c.entity_type, changes.c.entity_id, changes.c.data
            )
            .where(changes.c.revision > revision)
            .order_by(changes.c.revision)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def assigned_kind(name: str) -> str | None:
    """The entity an ASSIGN record's ``assignedEntityType`` names (a kind or a resource)."""
    entity = REGISTRY.entities.get(name) or REGISTRY.by_resource.get(name)
    return entity.rest_name if entity is not None else None
