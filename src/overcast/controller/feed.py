"""Reading the directory for the policy engine (the I/O edge): a consistent snapshot, then the
change log from a revision, translated into engine changes.

Blocking (SQL): the controller calls these from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select

from ..directory.db import Store, changes, members, objects
from ..directory.schema import REGISTRY
from ..directory.transaction import row_to_obj
from ..policy.compiler import PolicyInput
from ..policy.engine import GROUP_KINDS, POLICY_KINDS, Change, Remove, SetGroups, SetMembers, Upsert, project


def load_snapshot(store: Store) -> tuple[int, list[Change]]:
    """Everything the engine reads, as of one revision (one repeatable-read transaction)."""
    out: list[Change] = []
    with store.read(snapshot=True) as conn:
        revision = int(conn.execute(select(func.max(changes.c.revision))).scalar() or 0)
        for row in conn.execute(select(objects).where(objects.c.kind.in_(POLICY_KINDS))):
            obj = row_to_obj(row)
            # Projected right away: the full JSON of every endpoint would triple the peak memory.
            out.append(Upsert(obj.kind, project(obj.kind, obj.to_json())))
        grouped: dict[str, set[str]] = {}
        for row in conn.execute(select(members.c.parent_id, members.c.child_id)):
            grouped.setdefault(row.parent_id, set()).add(row.child_id)
    out.extend(SetMembers(group_id, frozenset(ids)) for group_id, ids in grouped.items())
    return revision, out


def load_policy_input(store: Store) -> PolicyInput:
    """The compiler's input, read from the store (for tests and ``overcast policy explain``)."""
    state = PolicyInput()
    _, snapshot = load_snapshot(store)
    for change in snapshot:
        if isinstance(change, Upsert):
            state.add(change.kind, change.obj)
        elif isinstance(change, SetMembers):
            state.members[change.group_id] = change.member_ids
    return state


def read_changes(store: Store, after: int, limit: int = 5000) -> list[dict[str, Any]]:
    """Change-log rows after a revision, in order."""
    with store.read() as conn:
        rows = conn.execute(
            select(
                changes.c.revision, changes.c.type, changes.c.entity_type, changes.c.entity_id, changes.c.data
            )
            .where(changes.c.revision > after)
            .order_by(changes.c.revision)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def changes_from_log(rows: Iterable[Mapping[str, Any]]) -> list[Change]:
    """Engine changes for change-log rows (other kinds are dropped by the engine itself)."""
    out: list[Change] = []
    for row in rows:
        kind, change_type, data = row["entity_type"], row["type"], row["data"]
        if change_type in ("CREATE", "UPDATE"):
            out.append(Upsert(kind, data))
        elif change_type == "DELETE":
            out.append(Remove(kind, row["entity_id"]))
        elif change_type == "ASSIGN":
            ids = frozenset(data.get("memberIDs") or ())
            name = data.get("assignedEntityType") or ""
            assigned = REGISTRY.entities.get(name) or REGISTRY.by_resource.get(name)
            if kind in GROUP_KINDS:
                out.append(SetMembers(row["entity_id"], ids))
            elif assigned is not None and assigned.rest_name in GROUP_KINDS:
                out.append(SetGroups(row["entity_id"], assigned.rest_name, ids))
    return out
