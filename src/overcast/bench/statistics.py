"""``overcast bench statistics``: what VSD statistics cost the store at the scale benchmark's
size — 20,000 endpoints on 40 hosts, 700 ACL entries with ``statsLoggingEnabled`` — with every
one of them moving in every interval (the worst case: objects that did not move are not
written at all).

The controller's own code does the work: each simulated 10-second interval, every host's report
goes through :class:`~overcast.statistics.rollup.Rollup` (vports placed in subnets of 50, zones
of 500 and domains of 500 endpoints, and their hosts), the rows it yields are written with
:func:`~overcast.directory.statistics_store.write_samples` into a fresh store, and every
simulated minute :func:`~overcast.directory.statistics_store.roll_up` and
:func:`~overcast.directory.statistics_store.prune_samples` run, as the controller runs them. The
clock is simulated (the intervals run as fast as the store takes them); the store is real.
Reported: rows and seconds per flush, the share of the store's time they take at a 10 s
interval, the roll-up's time, rows kept per resolution at steady state and the bytes they take
(measured bytes per row × rows each resolution keeps once its retention is full).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..directory.db import Store, migrate, statistics
from ..directory.statistics_store import prune_samples, roll_up, write_samples
from ..statistics.rollup import RESOLUTIONS, Placement, Rollup
from .stats import machine, summary_ms

TRAFFIC = {"PACKETS_IN": 100, "BYTES_IN": 64_000, "PACKETS_OUT": 90, "BYTES_OUT": 60_000}
ENTRY_TRAFFIC = {"INGRESS_PACKET_COUNT": 3, "INGRESS_BYTE_COUNT": 180}


def _placements(endpoints: int) -> dict[str, Placement]:
    return {
        f"vport-{i:06d}": Placement(f"subnet-{i // 50}", f"zone-{i // 500}", f"domain-{i // 500}")
        for i in range(endpoints)
    }


def run(
    output: str,
    *,
    endpoints: int = 20_000,
    hosts: int = 40,
    entries: int = 700,
    minutes: int = 15,
    database: str | None = None,
) -> dict[str, Any]:
    place = _placements(endpoints)
    vports = sorted(place)
    entry_ids = [f"entry-{i:04d}" for i in range(entries)]
    rollup = Rollup(place.get, lambda _entry: True)
    flushes: list[float] = []
    maintenance: list[float] = []
    rows_per_flush: list[int] = []
    with tempfile.TemporaryDirectory(prefix="overcast-bench-stats-") as scratch:
        path = Path(scratch) / "statistics.db"
        store = Store(database or f"sqlite:///{path}")
        migrate(store)
        start = 1_700_000_000 // 3600 * 3600
        began = time.monotonic()
        for step in range(minutes * 6):
            now = start + step * 10
            for host in range(hosts):
                reported: list[tuple[str, str, dict[str, int]]] = [
                    ("vport", v, TRAFFIC) for v in vports[host::hosts]
                ]
                reported += [("ingressaclentrytemplate", e, ENTRY_TRAFFIC) for e in entry_ids[host::hosts]]
                rollup.add(now, f"vrs-{host}", reported)
            rows = rollup.take()
            flush_began = time.perf_counter()
            write_samples(store, rows)
            flushes.append(time.perf_counter() - flush_began)
            rows_per_flush.append(len(rows))
            if step % 6 == 5:
                maintenance_began = time.perf_counter()
                roll_up(store, now + 10, RESOLUTIONS)
                prune_samples(store, now + 10, RESOLUTIONS)
                maintenance.append(time.perf_counter() - maintenance_began)
        elapsed = time.monotonic() - began
        with store.read() as conn:
            query = select(statistics.c.resolution, func.count()).group_by(statistics.c.resolution)
            stored = {int(resolution): int(count) for resolution, count in conn.execute(query)}
        store.dispose()
        size = None
        if database is None:
            size = sum(os.path.getsize(p) for p in Path(scratch).glob("statistics.db*"))
    objects = max(rows_per_flush) if rows_per_flush else 0
    total_rows = sum(stored.values())
    per_row = size / total_rows if size and total_rows else None
    steady = {str(resolution): objects * (retention // resolution) for resolution, retention in RESOLUTIONS}
    report = {
        "benchmark": "statistics",
        "machine": machine(),
        "store": "sqlite" if database is None else database.split(":", 1)[0],
        "endpoints": endpoints,
        "hosts": hosts,
        "entries": entries,
        "simulated_minutes": minutes,
        "rows_per_flush": objects,
        "flush": summary_ms(flushes),
        "write_rate_rows_per_s": round(objects / 10),
        "store_busy_fraction_at_10s": round(sum(flushes) / (len(flushes) * 10), 4) if flushes else 0,
        "rollup_and_prune_per_minute": summary_ms(maintenance),
        "rows_stored_after_run": {str(r): n for r, n in stored.items()},
        "bytes_per_row": round(per_row, 1) if per_row else None,
        "steady_rows_per_resolution": steady,
        "steady_store_mb": round(sum(steady.values()) * per_row / 1e6, 1) if per_row else None,
        "store_mb_per_hour_written": round(objects * 360 * per_row / 1e6, 1) if per_row else None,
        "elapsed_seconds": round(elapsed, 1),
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report
