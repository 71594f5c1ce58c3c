"""An agent's datapath counters as per-object deltas since its previous read (pure).

Counters are cumulative in the kernel; the agent reports what moved. A counter that went
back (the table was replaced without adoption, an endpoint's element was removed and added
again, the agent restarted without its record) restarted from zero: its delta is its value,
so rates never go negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .metrics import ENDPOINT_COUNTERS, ENTRY_COUNTERS

#: (kind, object ID, domain ID) -> VSD metric -> cumulative value.
Readings = dict[tuple[str, str, str], dict[str, int]]


def readings(counters: Mapping[str, Mapping[str, Any]]) -> Readings:
    """:meth:`Dataplane.counters` as VSD metrics per object (defaults are not objects: they
    stay in the agent's own counters)."""
    out: Readings = {}
    for domain_id, counted in counters.items():
        for direction, (kind, names) in ENTRY_COUNTERS.items():
            for entry_id, values in counted.get(direction, {}).items():
                if entry_id == "default":
                    continue
                out[(kind, entry_id, domain_id)] = {names[0]: values[0], names[1]: values[1]}
        for vport_id, sets in counted.get("endpoints", {}).items():
            metrics: dict[str, int] = {}
            for (set_name, position), metric in ENDPOINT_COUNTERS.items():
                values = sets.get(set_name)
                if values is not None:
                    metrics[metric] = values[position]
            out[("vport", vport_id, domain_id)] = metrics
    return out


def deltas(previous: Readings, current: Readings) -> Readings:
    """What moved between two reads: per object, the metrics whose value changed (a value lower
    than before counts from zero). Objects with nothing moved are left out."""
    out: Readings = {}
    for key, metrics in current.items():
        before = previous.get(key, {})
        moved = {}
        for name, value in metrics.items():
            old = before.get(name, 0)
            delta = value - old if value >= old else value
            if delta:
                moved[name] = delta
        if moved:
            out[key] = moved
    return out
