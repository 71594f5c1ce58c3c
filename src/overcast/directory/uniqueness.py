"""The transaction's uniqueness checks: whether another object of an entity holds a key in its
scope (its parent, its enterprise, or the system) — probed by one indexed query, answered ahead
by :meth:`~overcast.directory.transaction.Transaction.get_with_ancestors`, or, in a bulk
request, from the scope's keys loaded once for the keys the request claims.

Part of :class:`~overcast.directory.transaction.Transaction` (a mixin over its state)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from .backends import Backend
from .schema import Entity


class Uniqueness:
    conn: Connection
    backend: Backend
    bulk: bool
    _unique_answers: dict[tuple[str, tuple[Any, ...]], bool]
    _unique_sets: dict[tuple[str, str | None], set[str]]
    _unique_candidates: frozenset[str]

    if TYPE_CHECKING:

        def flush(self) -> None: ...

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
        return bool(self.backend.execute(self.conn, sql, parameters))

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
            among, values = self.backend.among_json(candidates)
            parameters += values
            sql = f"SELECT ukey FROM objects WHERE {where} AND ukey {among}"
            found = {r[0] for r in self.backend.execute(self.conn, sql, parameters)}
            self._unique_sets[key] = found
        return found


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
