"""The transaction's change log: records buffered during the operation, appended with
consecutive revisions as the last statement before commit (:meth:`ChangeLog.finish`), so that
revisions commit in order and a tail never skips one that commits later.

Part of :class:`~overcast.directory.transaction.Transaction` (a mixin over its state)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from .backends import COPY_THRESHOLD, Backend
from .objects import Change, Obj


class ChangeLog:
    conn: Connection
    backend: Backend
    changes: list[Change]
    now: int
    user_id: str | None
    _pending: set[str]
    _pipeline: Any
    _new_rows: dict[str, dict[str, Any]]
    _new_scopes: list[dict[str, Any]]
    _updates: dict[str, dict[str, Any]]
    _new_addresses: list[dict[str, Any]]
    _new_macs: list[dict[str, Any]]

    if TYPE_CHECKING:

        def flush(self) -> None: ...

        def next_value(self, name: str, start: int = 1, count: int = 1) -> int: ...

    def record(self, change_type: str, obj: Obj, **extra: Any) -> None:
        if change_type == "UPDATE" and obj.id in self._pending:
            return  # the pending record will carry the final state
        if change_type in ("CREATE", "UPDATE"):
            self._pending.add(obj.id)
        self.changes.append(Change(change_type, obj, extra))

    def finish(self) -> int | None:
        """Write deferred rows, append the buffered changes with consecutive revisions; return
        the last revision."""
        if self.backend.pipelines and self.changes and self._fits_one_round_trip():
            return self._finish_in_one_round_trip()
        self.flush()
        if not self.changes:
            return None
        first = self._reserve_revisions(len(self.changes))
        records = [self._change_record(change) for change in self.changes]
        rows = [{"revision": first + offset, **record} for offset, record in enumerate(records)]
        self.backend.insert_rows(self.conn, "changes", rows, self._pipeline)
        self.backend.announce_changes(self.conn)
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
        return all(len(p) < COPY_THRESHOLD for p in pending) and len(self.changes) < COPY_THRESHOLD

    def _finish_in_one_round_trip(self) -> int:
        """The deferred rows, the change log and its notification in one round trip (see
        :meth:`Backend.append_changes_in_one_round_trip`)."""
        records = [self._change_record(change) for change in self.changes]

        def write_deferred(cursor: Any) -> None:
            self._pipeline = cursor
            try:
                self.flush()
            finally:
                self._pipeline = None

        revisions = self.backend.append_changes_in_one_round_trip(self.conn, records, write_deferred)
        if len(revisions) != len(records):  # no counter row yet: the first change ever
            first = self.next_value("revision", 1, len(records))
            rows = [{"revision": first + i, **r} for i, r in enumerate(records)]
            self.backend.insert_rows(self.conn, "changes", rows, None)
            return first + len(records) - 1
        return max(revisions)

    def _reserve_revisions(self, count: int) -> int:
        return self.backend.reserve_revisions(self.conn, count, self.next_value)
