"""The directory: what the HTTP layer (and the controller's interface) calls — list, get,
create, bulk create, update, delete, assign — one method per kind of request, each in its own
transaction through :class:`.operations.Operations`; logging in (:mod:`.authentication`) and
the push channel (:mod:`.push`) delegated.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import DBAPIError

from . import filters, policy_decisions, statistics_query
from .authentication import Authenticator
from .backends import backend_for
from .behaviours import behaviour
from .compliance import gate as compliance_gate
from .compliance import judge as compliance_judge
from .compliance import violation_body
from .db import Store, members, objects, scopes
from .errors import (
    VsdError,
    bad_request,
    not_found,
)
from .objects import Obj, row_to_obj
from .operations import Operations
from .principals import (
    SYSTEM,
    Principal,
    audience_of,
)
from .push import ChangeListener, PushChannels
from .schema import LEAF_ANCHORS, LEAF_DIRECT, REGISTRY, ROOT, Entity, Relation
from .transaction import Transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

# Re-exported: the rest of the system imports them from here.
__all__ = ["SYSTEM", "Directory", "Operations", "Principal"]

# --- one transaction's operations -----------------------------------------------------------


@functools.cache
def _id_attrs(rest_name: str) -> tuple[str, ...]:
    """An entity's attributes that name another object (``...ID``)."""
    return tuple(a for a in REGISTRY.entity(rest_name).attrs if a.endswith("ID"))


def _referenced_ids(entity: Entity, items: list[Any]) -> list[str]:
    """IDs a bulk request's elements name (``...ID`` attributes, also in their interfaces)."""
    own = _id_attrs(entity.rest_name)
    interface_kind = getattr(behaviour(entity.rest_name), "interface_kind", None)
    nested = _id_attrs(interface_kind) if interface_kind else ()
    found: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        found += [v for a in own if isinstance(v := item.get(a), str)]
        parts = item.get("interfaces") if nested else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict):
                found += [v for a in nested if isinstance(v := part.get(a), str)]
    return found


#: The furthest a page may start (a page of 2^63 once reached the database as an overflowing
#: OFFSET: a 500). Far beyond any listing this store holds.
MAX_LISTING_OFFSET = 10**9

#: The most elements one bulk POST may create. A bulk request is one write transaction; on
#: SQLite every other writer waits for it (50,000 elements with one bad one held the lock for
#: 57 s). 1,000 objects commit in ~0.2-0.3 s here; the benchmarks and the demo send 500.
MAX_BULK_ELEMENTS = 1000
#: Elements per savepoint when a bulk request is created again after one element failed.
BULK_CHUNK = 64


class _OneFailed(Exception):
    """An element of an all-or-nothing bulk attempt was refused (the attempt rolls back)."""


# --- the directory --------------------------------------------------------------------------


@dataclass
class ListResult:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


class _RolledBack(Exception):
    """Ends a what-if's transaction without committing it."""


class Directory:
    def __init__(
        self,
        store: Store,
        *,
        api_key_ttl: float = 24 * 3600,
        default_page_size: int = 50,
        max_page_size: int = 500,
    ) -> None:
        self.store = store
        self.backend = backend_for(store.url)
        self.api_key_ttl = api_key_ttl
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.listener = ChangeListener()
        #: Metrics hooks: ``on_write(outcome=...)`` gives what to ``observe`` a write
        #: transaction's seconds into; ``on_judged(seconds)`` for compliance judging.
        self.on_write: Callable[..., Any] | None = None
        self.on_judged: Callable[[float], None] | None = None
        self.auth = Authenticator(self)
        self.push = PushChannels(self)

    # transactions

    def _write(self, principal: Principal, work: Callable[[Operations], T]) -> T:
        began = time.perf_counter()
        outcome = "error"
        try:
            result = self._write_once(principal, work)
            outcome = "committed"
            return result
        except VsdError:
            outcome = "refused"
            raise
        finally:
            if self.on_write is not None:
                self.on_write(outcome=outcome).observe(time.perf_counter() - began)

    def _write_once(self, principal: Principal, work: Callable[[Operations], T]) -> T:
        for attempt in range(8):
            try:
                with self.store.write() as conn:
                    tx = Transaction(conn, backend=self.backend, user_id=principal.user_id)
                    ops = Operations(tx, principal)
                    result = work(ops)
                    judging = time.perf_counter()
                    if compliance_gate(ops) and self.on_judged is not None:
                        self.on_judged(time.perf_counter() - judging)
                    audience = audience_of((c.obj.kind, c.obj.enterprise_id) for c in tx.changes)
                    revision = tx.finish()
                if ops.revoked_users:
                    self.auth.forget_sessions(ops.revoked_users)
                if revision is not None:
                    self.listener.notify(revision, audience)
                return result
            except Exception as exc:
                # PostgreSQL aborts one of two deadlocked or conflicting writers: run it again.
                # (Statements sent through SQLAlchemy raise its DBAPIError, those sent through
                # the DB-API cursor the driver's own error: both carry the SQLSTATE.)
                code = getattr(exc.orig if isinstance(exc, DBAPIError) else exc, "sqlstate", None)
                if code in ("40001", "40P01", "23505") and attempt < 7:
                    time.sleep(0.005 * (attempt + 1))
                    continue
                raise
        raise AssertionError("unreachable")

    def write_as(self, principal: Principal, work: Callable[[Operations], T]) -> T:
        """Run ``work`` in one write transaction judged as ``principal`` (the controller acting
        for a host's runtime credentials): ``Operations``' access checks apply as to a client."""
        return self._write(principal, work)

    def read_as_system(self, work: Callable[[Operations], T]) -> T:
        """Run ``work`` in one read transaction as the system (reads the caller's rights were
        already checked for)."""
        with self._read(SYSTEM) as ops:
            return work(ops)

    def write_as_system(self, work: Callable[[Operations], T]) -> T:
        """Run ``work`` in one write transaction as the system itself (the controller's
        records: hosts, endpoint bindings), bypassing API-level permissions."""
        return self._write(SYSTEM, work)

    @contextmanager
    def _read(self, principal: Principal) -> Iterator[Operations]:
        with self.store.read() as conn:
            yield Operations(Transaction(conn, backend=self.backend), principal)

    # bootstrap and authentication

    def bootstrap(self, csproot_password: str) -> None:
        """Create the operator enterprise CSP and its csproot user on first start."""

        def work(ops: Operations) -> None:
            existing = ops.tx.select(
                and_(objects.c.kind == "enterprise", objects.c.data["enterpriseType"].as_string() == "CSP")
            )
            if existing:
                return
            csp = Obj(
                "enterprise",
                ops.tx.new_id(),
                None,
                None,
                None,
                {
                    "name": "CSP",
                    "description": "The operator's organisation",
                    "enterpriseType": "CSP",
                    "customerID": 1,
                    "floatingIPsQuota": 0,
                    "floatingIPsUsed": 0,
                },
            )
            csp.enterprise_id = csp.id
            ops.tx.insert(csp, [])
            ops.tx.record("CREATE", csp)
            ops.create_internal(
                csp,
                "user",
                {
                    "userName": "csproot",
                    "password": csproot_password,
                    "firstName": "csproot",
                    "lastName": "csproot",
                    "email": "csproot@localhost",
                    "role": "CSPROOT",
                },
            )

        self._write(SYSTEM, work)

    def authenticate(
        self, organization: str | None, authorization: str | None, *, login: bool = False
    ) -> tuple[Principal, str | None, int | None]:
        """See :meth:`.authentication.Authenticator.authenticate`."""
        return self.auth.authenticate(organization, authorization, login=login)

    def login(self, organization: str | None, authorization: str | None) -> dict[str, Any]:
        """``GET /me``: see :meth:`.authentication.Authenticator.login`."""
        return self.auth.login(organization, authorization)

    def password_matches(self, organization: str, user_name: str, password: str) -> bool:
        return self.auth.password_matches(organization, user_name, password)

    # the change log and the push channel (push.py)

    def head_revision(self) -> int:
        return self.push.head_revision()

    def open_channel(self, principal: Principal) -> str:
        return self.push.open_channel(principal)

    def channel_cursor(self, principal: Principal, channel: str) -> int | None:
        return self.push.channel_cursor(principal, channel)

    def poll_events(
        self, principal: Principal, channel: str, cursor: int, limit: int = 500
    ) -> tuple[list[dict[str, Any]], int]:
        return self.push.poll_events(principal, channel, cursor, limit)

    def save_channel(self, principal: Principal, channel: str, cursor: int) -> None:
        self.push.save_channel(principal, channel, cursor)

    def changes_since(self, revision: int, limit: int = 1000) -> list[dict[str, Any]]:
        return self.push.changes_since(revision, limit)

    # reads

    def listing(
        self,
        principal: Principal,
        parent_resource: str,
        parent_id: str | None,
        resource: str,
        *,
        filter_text: str | None = None,
        order_text: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
        count_only: bool = False,
    ) -> ListResult:
        relation, parent_entity = self._relation(parent_resource, resource)
        entity = REGISTRY.entity(relation.child)
        where = [objects.c.kind == entity.rest_name]
        if filter_text:
            where.append(filters.to_sql(filters.parse_filter(filter_text), entity))
        order = filters.parse_order(order_text, entity) if order_text else []
        size = self.default_page_size if page_size is None else page_size
        if size < 1 or size > self.max_page_size:
            raise bad_request(
                f"X-Nuage-PageSize must be between 1 and {self.max_page_size}.", prop="X-Nuage-PageSize"
            )
        page = page or 0
        if page < 0:
            raise bad_request("X-Nuage-Page is 0-based and cannot be negative.", prop="X-Nuage-Page")
        if page * size > MAX_LISTING_OFFSET:
            raise bad_request(
                f"X-Nuage-Page starts past the {MAX_LISTING_OFFSET:,}th object of any listing.",
                prop="X-Nuage-Page",
            )
        with self._read(principal) as ops:
            if relation.kind != "root":
                assert parent_entity is not None and parent_id is not None
                parent = ops.visible_or_404(ops.tx.get(parent_id), parent_entity.rest_name, parent_id)
                if parent.kind != parent_entity.rest_name:
                    raise not_found(parent_entity.rest_name, parent_id)
                where.append(self._relation_clause(relation, parent, ops))
            if not principal.is_operator:
                own = objects.c.enterprise_id == principal.enterprise_id
                where.append(or_(own, objects.c.enterprise_id.is_(None)) if entity.global_scope else own)
            clause = and_(*where)

            def count() -> int:  # scans everything that matches
                return int(
                    ops.tx.conn.execute(select(func.count()).select_from(objects).where(clause)).scalar_one()
                )

            if count_only:
                return ListResult([], count(), page, size)
            # The page stops after `size` rows. A short page is the last one: it gives the total
            # without a second scan (a selective filter no index serves scanned twice).
            query = (
                select(objects).where(clause).order_by(*order, objects.c.pk).offset(page * size).limit(size)
            )
            rows = list(ops.tx.conn.execute(query))
            last_page = len(rows) < size and (rows or page == 0)
            total = page * size + len(rows) if last_page else count()
        return ListResult([row_to_obj(r).to_json() for r in rows], total, page, size)

    @staticmethod
    def _relation_clause(relation: Relation, parent: Obj, ops: Operations) -> Any:
        if relation.kind == "reference":
            return objects.c.id == (parent.data.get(relation.via or "") or "")
        if relation.kind == "applicable":
            return Directory._applicable_entries(relation, parent, ops)
        if relation.kind == "owner":
            return objects.c.parent_id == parent.id
        if relation.kind == "descendant":
            anchor = LEAF_ANCHORS.get(relation.child)
            if (
                anchor is not None
                and parent.kind != anchor
                and parent.kind not in LEAF_DIRECT.get(relation.child, ())
            ):
                # A leaf's only row names its anchor; the anchor's rows name the parent.
                own, via = scopes.alias("own"), scopes.alias("via")
                return (
                    select(own.c.object_id)
                    .join(via, via.c.object_id == own.c.ancestor_id)
                    .where(
                        own.c.object_id == objects.c.id,
                        own.c.kind == relation.child,
                        via.c.ancestor_id == parent.id,
                        via.c.kind == anchor,
                    )
                    .exists()
                )
            # EXISTS probes the scopes key per candidate, so a selective filter stays cheap.
            return (
                select(scopes.c.object_id)
                .where(
                    scopes.c.ancestor_id == parent.id,
                    scopes.c.kind == relation.child,
                    scopes.c.object_id == objects.c.id,
                )
                .exists()
            )
        name, of_parent = REGISTRY.member_relation(parent.kind, relation.child)
        mine, theirs = ("parent_id", "child_id") if of_parent else ("child_id", "parent_id")
        return objects.c.id.in_(
            select(members.c[theirs]).where(members.c.relation == name, members.c[mine] == parent.id)
        )

    @staticmethod
    def _applicable_entries(relation: Relation, vport: Obj, ops: Operations) -> Any:
        """Entries of the vport's domain's active policies whose location covers the vport."""
        template_kind = relation.child.replace("entry", "")
        policies = select(objects.c.id).where(
            objects.c.kind == template_kind,
            objects.c.parent_id == vport.data.get("domainID"),
            objects.c.data["active"].as_boolean().is_(True),
        )
        groups = ops.tx.member_ids("policygroup.vport", vport.id, of_parent=False)
        locations = [*groups, vport.data.get("zoneID") or "", vport.parent_id or ""]
        return and_(
            objects.c.parent_id.in_(policies),
            or_(
                objects.c.data["locationType"].as_string() == "ANY",
                objects.c.data["locationID"].as_string().in_(locations),
            ),
        )

    def _relation(self, parent_resource: str, resource: str) -> tuple[Relation, Entity | None]:
        parent_entity = None
        if parent_resource != ROOT:
            parent_entity = REGISTRY.by_resource.get(parent_resource)
            if parent_entity is None:
                raise not_found(parent_resource, "")
            key = (parent_entity.rest_name, resource)
        else:
            key = (ROOT, resource)
        relation = REGISTRY.relations.get(key)
        if relation is None:
            raise not_found(resource, "")
        return relation, parent_entity

    def get(self, principal: Principal, resource: str, object_id: str) -> dict[str, Any]:
        entity = self._entity(resource)
        with self._read(principal) as ops:
            obj = ops.visible_or_404(ops.tx.get(object_id), entity.rest_name, object_id)
            if obj.kind != entity.rest_name:
                raise not_found(entity.rest_name, object_id)
            return obj.to_json()

    def statistics(
        self, principal: Principal, resource: str, object_id: str, params: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """VSD ``statistics`` of one object the caller may see (:mod:`.statistics_query`)."""
        return statistics_query.statistics(self, principal, resource, object_id, params)

    def policy_decisions(self, principal: Principal, resource: str, object_id: str) -> list[dict[str, Any]]:
        """VSD ``policydecisions`` of an interface or vport the caller may see
        (:mod:`.policy_decisions`)."""
        return policy_decisions.policy_decisions(self, principal, resource, object_id)

    @staticmethod
    def _entity(resource: str) -> Entity:
        entity = REGISTRY.by_resource.get(resource)
        if entity is None:
            raise not_found(resource, "")
        return entity

    # writes

    def _creatable(self, parent_resource: str, resource: str) -> tuple[Relation, Entity | None]:
        """The relation a create (single or bulk) goes through, or 405 where objects of that
        resource are not created (a descendant listing; a root listing of what has a parent)."""
        relation, parent_entity = self._relation(parent_resource, resource)
        if relation.kind not in ("owner", "root") or (
            relation.kind == "root" and ROOT not in REGISTRY.entity(relation.child).owners
        ):
            raise VsdError(
                405, "Method not allowed", f"{resource} cannot be created under {parent_resource}.", code=2405
            )
        return relation, parent_entity

    def create(
        self, principal: Principal, parent_resource: str, parent_id: str | None, resource: str, body: Any
    ) -> dict[str, Any]:
        return self._write(principal, self._create_work(parent_resource, parent_id, resource, body))

    def _create_work(
        self, parent_resource: str, parent_id: str | None, resource: str, body: Any
    ) -> Callable[[Operations], dict[str, Any]]:
        relation, parent_entity = self._creatable(parent_resource, resource)
        entity = REGISTRY.entity(relation.child)

        def work(ops: Operations) -> dict[str, Any]:
            parent = None
            if parent_entity is not None:
                assert parent_id is not None
                # Locked now when the name check will lock it anyway (one query less), and the
                # name probed with it.
                parent = ops.tx.get_with_ancestors(
                    parent_id,
                    lock=entity.unique_scope == "parent",
                    unique=(entity, body.get(entity.unique_attr)) if isinstance(body, dict) else None,
                )
                if parent is None or parent.kind != parent_entity.rest_name:
                    raise not_found(parent_entity.rest_name, parent_id)
            return ops.create(parent, entity, body).to_json()

        return work

    def bulk_create(
        self,
        principal: Principal,
        parent_resource: str,
        parent_id: str | None,
        resource: str,
        items: list[Any],
    ) -> list[tuple[int, dict[str, Any]]]:
        """Create each element in its own savepoint: one bad element fails alone (VSD's 207)."""
        relation, parent_entity = self._creatable(parent_resource, resource)
        entity = REGISTRY.entity(relation.child)

        def parent_of(ops: Operations) -> Obj | None:
            if parent_entity is None:
                return None
            assert parent_id is not None
            parent = ops.tx.get_with_ancestors(parent_id, lock=entity.unique_scope == "parent")
            if parent is None or parent.kind != parent_entity.rest_name:
                raise not_found(parent_entity.rest_name, parent_id)
            return parent

        def start(ops: Operations) -> Obj | None:
            parent = parent_of(ops)
            ops.tx.bulk = True
            if entity.unique_scope is not None:
                claimed = (i.get(entity.unique_attr) for i in items if isinstance(i, dict))
                ops.tx.expect_unique_keys(entity, claimed)
            return parent

        def all_or_nothing(ops: Operations) -> list[tuple[int, dict[str, Any]]]:
            parent = start(ops)
            ops.tx.prefetch(_referenced_ids(entity, items))
            try:
                return [(201, ops.create(parent, entity, item).to_json()) for item in items]
            except VsdError as exc:
                raise _OneFailed from exc

        def chunk_by_chunk(ops: Operations) -> list[tuple[int, dict[str, Any]]]:
            parent = start(ops)
            ops.tx.prefetch(_referenced_ids(entity, items))
            results: list[tuple[int, dict[str, Any]]] = []
            for begin in range(0, len(items), BULK_CHUNK):
                chunk = items[begin : begin + BULK_CHUNK]
                try:
                    with ops.tx.savepoint():
                        results.extend((201, ops.create(parent, entity, item).to_json()) for item in chunk)
                    continue
                except VsdError:
                    del results[begin:]  # the chunk's own: rolled back with its savepoint
                for item in chunk:
                    try:
                        with ops.tx.savepoint():
                            results.append((201, ops.create(parent, entity, item).to_json()))
                    except VsdError as exc:
                        results.append((exc.status, exc.body()))
            return results

        if len(items) > MAX_BULK_ELEMENTS:
            raise VsdError(
                413,
                "Too many objects",
                f"An array creates at most {MAX_BULK_ELEMENTS} objects ({len(items)} sent): split it.",
                code=2413,
            )
        # Most bulk requests are entirely valid: try them without a savepoint per element (two
        # statements each, 40 % of the work); if one fails, the transaction rolls back and the
        # elements are created again in savepoints of BULK_CHUNK, a failing chunk one element at
        # a time, so each bad element fails alone and the rest cost about what they did.
        try:
            return self._write(principal, all_or_nothing)
        except _OneFailed:
            return self._write(principal, chunk_by_chunk)

    def update(
        self, principal: Principal, resource: str, object_id: str, body: Any, *, confirmed: bool
    ) -> dict[str, Any]:
        return self._write(principal, self._update_work(resource, object_id, body, confirmed=confirmed))

    def _update_work(
        self, resource: str, object_id: str, body: Any, *, confirmed: bool
    ) -> Callable[[Operations], dict[str, Any]]:
        entity = self._entity(resource)

        def work(ops: Operations) -> dict[str, Any]:
            obj = ops.visible_or_404(ops.tx.get(object_id, lock=True), entity.rest_name, object_id)
            if obj.kind != entity.rest_name:
                raise not_found(entity.rest_name, object_id)
            return ops.update(obj, body, confirmed=confirmed).to_json()

        return work

    def delete(self, principal: Principal, resource: str, object_id: str, *, confirmed: bool) -> None:
        self._write(principal, self._delete_work(resource, object_id, confirmed=confirmed))

    def _delete_work(self, resource: str, object_id: str, *, confirmed: bool) -> Callable[[Operations], None]:
        entity = self._entity(resource)

        def work(ops: Operations) -> None:
            obj = ops.visible_or_404(ops.tx.get(object_id, lock=True), entity.rest_name, object_id)
            if obj.kind != entity.rest_name:
                raise not_found(entity.rest_name, object_id)
            ops.delete(obj, confirmed=confirmed)

        return work

    def assign(
        self, principal: Principal, parent_resource: str, parent_id: str, resource: str, ids: Any
    ) -> list[str]:
        return self._write(principal, self._assign_work(parent_resource, parent_id, resource, ids))

    def _assign_work(
        self, parent_resource: str, parent_id: str, resource: str, ids: Any
    ) -> Callable[[Operations], list[str]]:
        relation, parent_entity = self._relation(parent_resource, resource)
        if relation.kind != "member" or parent_entity is None:
            raise VsdError(
                405, "Method not allowed", f"{resource} cannot be assigned to {parent_resource}.", code=2405
            )
        child_entity = REGISTRY.entity(relation.child)

        def work(ops: Operations) -> list[str]:
            parent = ops.visible_or_404(ops.tx.get(parent_id), parent_entity.rest_name, parent_id)
            if parent.kind != parent_entity.rest_name:
                raise not_found(parent_entity.rest_name, parent_id)
            return ops.assign(parent, child_entity, ids)

        return work

    def what_if(self, principal: Principal, steps: Any) -> dict[str, Any]:
        """Run writes (``[{"method", "path", "body"}]``, as the API takes them) in one
        transaction, judge compliance, and roll everything back: per policy the violations
        they would add and remove, and whether an ENFORCE policy would refuse them. A step the
        directory itself refuses is reported with its error (and nothing after it runs)."""
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
            raise bad_request('A what-if is a non-empty list of {"method", "path", "body"} writes.')
        works = [self._step_work(index, step) for index, step in enumerate(steps, start=1)]
        report: dict[str, Any] = {}

        def work(ops: Operations) -> None:
            for index, step_work in enumerate(works, start=1):
                try:
                    step_work(ops)
                except VsdError as exc:
                    report.update(refused=True, step=index, error=exc.body())
                    raise _RolledBack from None
            outcomes = compliance_judge(
                ops, enterprises={None, *(c.obj.enterprise_id for c in ops.tx.changes)}
            )
            changed = {c.obj.id for c in ops.tx.changes if c.obj.kind == "compliancepolicy"}
            report["policies"] = [
                {
                    "name": o.policy.data.get("name"),
                    "ID": o.policy.id,
                    "mode": o.policy.data.get("mode"),
                    "added": [violation_body(ops, v) for v in o.added],
                    "removed": o.removed,
                }
                for o in outcomes
                if o.added or o.removed
            ]
            report["refused"] = any(
                o.policy.data.get("mode") == "ENFORCE" and o.added and o.policy.id not in changed
                for o in outcomes
            )
            raise _RolledBack

        try:
            self._write(principal, work)
        except _RolledBack:
            pass
        return report

    def _step_work(self, index: int, step: dict[str, Any]) -> Callable[[Operations], Any]:
        method = str(step.get("method", "")).upper()
        path = str(step.get("path", "")).strip("/").removeprefix("nuage/api/v6/").split("?")[0]
        parts = [p for p in path.split("/") if p]
        body = step.get("body")
        confirmed = True
        if method == "POST" and len(parts) == 1:
            return self._create_work(ROOT, None, parts[0], body)
        if method == "POST" and len(parts) == 3:
            return self._create_work(parts[0], parts[1], parts[2], body)
        if method == "PUT" and len(parts) == 2:
            return self._update_work(parts[0], parts[1], body, confirmed=confirmed)
        if method == "PUT" and len(parts) == 3:
            return self._assign_work(parts[0], parts[1], parts[2], body)
        if method == "DELETE" and len(parts) == 2:
            return self._delete_work(parts[0], parts[1], confirmed=confirmed)
        raise bad_request(f"Step {index}: {method} {step.get('path')} is not a write the API takes.")

    # change log and push channels
