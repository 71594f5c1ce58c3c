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


READ_BATCH = 5000
#: The most rows read before applying: a read that fills its batch may have stopped inside a
#: transaction, so reading goes on until a read comes back short (the log's head: committed
#: transactions are whole there) or this many rows are held. A transaction of up to this many
#: changes — a published policy draft — thus reaches every host as one update.
WHOLE_TRANSACTIONS_UP_TO = 4 * READ_BATCH


def read_changes(directory: Directory, after: int, limit: int = READ_BATCH) -> list[dict[str, Any]]:
    """Change-log rows after a revision, in order."""
    return directory_api.changes_after(directory, after, limit)


def read_whole_changes(directory: Directory, after: int) -> list[dict[str, Any]]:
    """Change-log rows after a revision, in order, ending at the log's head unless more than
    :data:`WHOLE_TRANSACTIONS_UP_TO` are waiting (then the last transaction may be cut)."""
    rows = read_changes(directory, after)
    while len(rows) % READ_BATCH == 0 and rows and len(rows) < WHOLE_TRANSACTIONS_UP_TO:
        more = read_changes(directory, int(rows[-1]["revision"]))
        if not more:
            break
        rows += more
    return rows


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
