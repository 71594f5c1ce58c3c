"""Reading the directory for the policy engine (the I/O edge): a consistent snapshot, then the
change log from a revision, translated into engine changes — through the directory's interface
for controllers only.

Blocking (SQL): the controller calls these from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..directory import controller_interface as directory_api
from ..directory.controller_interface import Directory
from ..policy.compiler import PolicyInput
from ..policy.engine import GROUP_KINDS, POLICY_KINDS, Change, Remove, SetGroups, SetMembers, Upsert, project


def load_snapshot(directory: Directory) -> tuple[int, list[Change]]:
    """Everything the engine reads, as of one revision."""
    # Projected as read: the full JSON of every endpoint would triple the peak memory.
    taken = directory_api.snapshot(
        directory, POLICY_KINDS, lambda kind, obj: Upsert(kind, project(kind, obj))
    )
    out: list[Change] = list(taken.objects)
    out.extend(SetMembers(group_id, ids) for group_id, ids in taken.members.items())
    return taken.revision, out


def load_policy_input(directory: Directory) -> PolicyInput:
    """The compiler's input, read from the directory (for tests and the scale benchmark)."""
    state = PolicyInput()
    _, snapshot = load_snapshot(directory)
    for change in snapshot:
        if isinstance(change, Upsert):
            state.add(change.kind, change.obj)
        elif isinstance(change, SetMembers):
            state.members[change.group_id] = change.member_ids
    return state


def read_changes(directory: Directory, after: int, limit: int = 5000) -> list[dict[str, Any]]:
    """Change-log rows after a revision, in order."""
    return directory_api.changes_after(directory, after, limit)


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
            assigned = directory_api.assigned_kind(data.get("assignedEntityType") or "")
            if kind in GROUP_KINDS:
                out.append(SetMembers(row["entity_id"], ids))
            elif assigned in GROUP_KINDS:
                out.append(SetGroups(row["entity_id"], assigned, ids))
    return out
