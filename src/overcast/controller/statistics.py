"""The controller's statistics: hosts' counter reports rolled up and flushed to the store.

Agents report deltas on their session every stats interval (:mod:`overcast.statistics.counting`);
this collector places each vport in its subnet, zone and domain from the engine's model, sums
everything per bucket (:mod:`overcast.statistics.rollup`) and, every ``flush_interval``, writes
what moved (:func:`~overcast.directory.statistics_store.write_samples`, in a worker thread); every
minute it rolls complete buckets up to the coarser resolutions (in SQL, exactly once whatever
the number of controllers) and prunes samples past their retention. A flush that fails keeps
its rows for the next one (at most :data:`MAX_PENDING` rows are held: beyond, they are dropped
and counted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..directory.controller_interface import prune_samples, roll_up, write_samples
from ..statistics.rollup import RESOLUTIONS, Placement, Rollup, Rows

if TYPE_CHECKING:
    from ..directory.controller_interface import Directory
    from ..policy.engine import PolicyEngine
    from ..protocol import controller_pb2 as pb

log = logging.getLogger("overcast.controller.statistics")

#: Rows held while the store is away (a row is one object's bucket: ~200 bytes).
MAX_PENDING = 500_000
#: Seconds between roll-ups and prunes of expired samples.
MAINTENANCE_INTERVAL = 60.0


class StatisticsCollector:
    def __init__(self, directory: Directory, engine: PolicyEngine, *, flush_interval: float = 10.0) -> None:
        self.directory = directory
        self.engine = engine
        self.flush_interval = flush_interval
        self.rollup = Rollup(self._place, self._entry_logged)
        self.unwritten: Rows = {}
        self.rows_written = 0
        self.rows_lost = 0
        self.reports = 0
        self._last_maintenance = 0.0
        self._off: set[str | None] = set()  # objects whose statistics are not collected

    def _place(self, vport_id: str) -> Placement | None:
        """Where a vport's traffic counts; None when unknown or not collected (a statistics
        policy with ``dataCollectionFrequency`` 0 on it, its subnet, zone or domain)."""
        found = self.engine.endpoint(vport_id)
        if found is None:
            return None
        domain_id, endpoint = found
        if self._off & {vport_id, endpoint.subnet_id, endpoint.zone_id, domain_id}:
            return None
        return Placement(endpoint.subnet_id, endpoint.zone_id, domain_id)

    def _entry_logged(self, entry_id: str) -> bool:
        objects = self.engine.state.objects
        entry = objects["ingressaclentrytemplate"].get(entry_id) or objects["egressaclentrytemplate"].get(
            entry_id
        )
        return bool(entry and entry.get("statsLoggingEnabled"))

    def report(self, vrs_id: str | None, message: pb.CounterReport) -> None:
        """One host's report, received now."""
        self.reports += 1
        policies = self.engine.state.objects["statisticspolicy"].values()
        self._off = {p.get("parentID") for p in policies if p.get("dataCollectionFrequency") == 0}
        self.rollup.add(time.time(), vrs_id, ((o.kind, o.id, dict(o.metrics)) for o in message.objects))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush()

    async def flush(self) -> None:
        rows = self.rollup.take()
        for key, columns in rows.items():  # merge into what a failed flush left
            held = self.unwritten.setdefault(key, {})
            for column, value in columns.items():
                held[column] = held.get(column, 0) + value
        if len(self.unwritten) > MAX_PENDING:
            self.rows_lost += len(self.unwritten)
            log.warning("statistics: %d rows could not be written and were dropped", len(self.unwritten))
            self.unwritten = {}
        if self.unwritten:
            try:
                self.rows_written += await asyncio.to_thread(
                    write_samples, self.directory.store, self.unwritten
                )
                self.unwritten = {}
            except Exception:
                log.exception("statistics: writing samples failed; kept for the next flush")
        now = time.time()
        if now - self._last_maintenance >= MAINTENANCE_INTERVAL:
            self._last_maintenance = now
            try:
                await asyncio.to_thread(self.maintain, int(now))
            except Exception:
                log.exception("statistics: rolling up or pruning samples failed")

    def maintain(self, now_s: int) -> None:
        """Roll complete buckets up and prune expired samples (blocking: a worker thread)."""
        roll_up(self.directory.store, now_s, RESOLUTIONS)
        prune_samples(self.directory.store, now_s, RESOLUTIONS)
