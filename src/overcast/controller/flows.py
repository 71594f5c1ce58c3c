"""The controller's flow log: what every host's datapath logged, named and kept for
``overcast flows`` — the system-wide view, as Hubble Relay gives Cilium's.

Agents send :class:`~overcast.protocol.controller_pb2.FlowBatch` es on their sessions (already
rate-limited at the source); the hub stamps each record with the session's host (never what
the agent claims), adds the names a person reads (enterprise, domain, the endpoints' vport
names, the entry's description) from the directory, keeps the last :data:`CAPACITY`, and
fans new ones out to followers. A follower that falls :data:`FOLLOWER_BACKLOG` records behind
loses the overflow (counted), never slowing the sessions.

Who sees what: the operator every record; a tenant the records of its enterprise's domains
(:func:`visible`), exactly like the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..directory import controller_interface as directory_api
from ..protocol import controller_pb2 as pb

if TYPE_CHECKING:
    from ..directory.controller_interface import Directory, Principal

log = logging.getLogger("overcast.controller.flows")

CAPACITY = 100_000
FOLLOWER_BACKLOG = 10_000
#: Seconds a looked-up name is reused (a renamed endpoint shows its new name after this).
NAME_TTL = 60.0
_NAMES_KEPT = 200_000


def matches(record: pb.FlowRecord, request: pb.FlowsRequest) -> bool:
    """Whether a record passes a request's filters (pure)."""
    if request.verdict and record.verdict != request.verdict.upper():
        return False
    if request.since_ms and record.time_ms < request.since_ms:
        return False
    if request.domain and request.domain not in (record.domain_id, record.domain):
        return False
    ends = (record.source_vport, record.source_name, record.destination_vport, record.destination_name)
    return not request.endpoint or request.endpoint in ends


class FlowHub:
    def __init__(self, directory: Directory, enterprise_of: Callable[[str], str | None]) -> None:
        self.directory = directory
        #: domain ID -> its enterprise ID (the engine's model)
        self.enterprise_of = enterprise_of
        self.records: deque[pb.FlowRecord] = deque(maxlen=CAPACITY)
        self.followers: set[asyncio.Queue[pb.FlowRecord]] = set()
        self.dropped_by_hosts = 0  # not sent by agents (their rate limits)
        self.dropped_for_followers = 0
        self._names: dict[tuple[str, str], tuple[str, float]] = {}

    async def add(self, host_id: str, batch: pb.FlowBatch) -> None:
        self.dropped_by_hosts += batch.dropped
        records = list(batch.records)
        if not records:
            return
        for record in records:
            record.host_id = host_id
        try:
            await asyncio.to_thread(self._name, records)
        except Exception:  # names are a convenience: records go on without them
            log.warning("naming flow records failed", exc_info=True)
        for record in records:
            self.records.append(record)
            for queue in self.followers:
                if queue.qsize() < FOLLOWER_BACKLOG:
                    queue.put_nowait(record)
                else:
                    self.dropped_for_followers += 1

    def visible(self, principal: Principal, record: pb.FlowRecord) -> bool:
        return principal.is_operator or self.enterprise_of(record.domain_id) == principal.enterprise_id

    def recent(self, principal: Principal, request: pb.FlowsRequest) -> list[pb.FlowRecord]:
        found = [r for r in self.records if self.visible(principal, r) and matches(r, request)]
        return found[-request.limit :] if request.limit else found

    # --- names (a worker thread) -----------------------------------------------------------

    def _lookup(self, resource: str, object_id: str) -> dict[str, Any] | None:
        try:
            return self.directory.get(directory_api.SYSTEM, resource, object_id)
        except directory_api.VsdError:
            return None

    def _named(self, resource: str, object_id: str, attribute: str) -> str:
        if not object_id:
            return ""
        key, now = (resource, object_id), time.monotonic()
        cached = self._names.get(key)
        if cached is not None and now - cached[1] < NAME_TTL:
            return cached[0]
        found = self._lookup(resource, object_id)
        value = str(found.get(attribute) or "") if found else ""
        if len(self._names) > _NAMES_KEPT:
            self._names.clear()
        self._names[key] = (value, now)
        return value

    def _name(self, records: list[pb.FlowRecord]) -> None:
        for record in records:
            record.domain = self._named("domains", record.domain_id, "name")
            enterprise_id = self.enterprise_of(record.domain_id) or ""
            record.enterprise = self._named("enterprises", enterprise_id, "name")
            record.source_name = self._named("vports", record.source_vport, "name")
            record.destination_name = self._named("vports", record.destination_vport, "name")
            if record.entry_id != "default":
                resource = f"{record.direction}aclentrytemplates"
                record.entry_description = self._named(resource, record.entry_id, "description")
