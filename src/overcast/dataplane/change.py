"""What a dataplane is asked to apply: one update's (or several composed updates') entries.

The dataplane's own type: the agent builds changes from the controller's updates and hands them
over; drivers depend on nothing of the agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..policy.compiler import Key
from ..protocol import codec
from ..protocol import controller_pb2 as pb


@dataclass
class Change:
    """What one update changes; for a snapshot, ``upserts`` is the whole new state and
    ``removals`` everything held before that it no longer has."""

    snapshot: bool
    upserts: dict[Key, pb.Entry] = field(default_factory=dict)
    removals: set[Key] = field(default_factory=set)

    def values(self) -> dict[Key, Any]:
        """The upserted entries decoded."""
        return {key: codec.decode_entry(entry)[1] for key, entry in self.upserts.items()}


def compose(changes: list[Change]) -> Change:
    """One change with the effect of applying ``changes`` in order (removals, then upserts).

    A snapshot in the sequence replaces everything before it. A key added and then removed
    stays in ``removals`` (removing what is not held is a no-op for every dataplane).
    """
    if len(changes) == 1:
        return changes[0]
    merged = Change(snapshot=False)
    for change in changes:
        if change.snapshot:
            merged = Change(snapshot=True, upserts=dict(change.upserts), removals=set(change.removals))
            continue
        for key in change.removals:
            merged.upserts.pop(key, None)
        merged.removals |= change.removals
        merged.upserts.update(change.upserts)
    return merged
