"""The controller's statistics buckets (pure): hosts' deltas summed per object and rolled up.

Every delta an agent reports lands in the bucket of the time it arrived (the controller's
clock: hosts' clocks may disagree) at the finest resolution the store keeps; the store rolls
the coarser ones up from it. A vport's traffic is
also its subnet's, its zone's, its domain's and its host's (``vrs``); an ACL entry's counts are
kept when the entry has ``statsLoggingEnabled`` (VSD's switch for per-entry statistics).
Nothing is written per packet: the store gets one row per moved object per bucket per flush.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .metrics import columns_of

#: (resolution in seconds, retention in seconds): 1 h at 10 s, a day at 5 min, 7 days at 1 h.
#: Measured (``overcast bench statistics``): 7 days at 5 min would keep 2,016 samples per
#: object (~2 GB at 20,000 endpoints all moving); 1 h buckets for the week keep 168.
RESOLUTIONS: tuple[tuple[int, int], ...] = ((10, 3600), (300, 86400), (3600, 7 * 86400))


@dataclass(frozen=True)
class Placement:
    """Where a vport's traffic also counts (IDs; None where it has none)."""

    subnet_id: str | None
    zone_id: str | None
    domain_id: str | None


#: A stored sample: (object ID, resolution, bucket start in seconds) -> column -> delta.
Rows = dict[tuple[str, int, int], dict[str, int]]


@dataclass
class Rollup:
    """Deltas waiting for the next flush; :meth:`take` hands them over and starts again."""

    #: vport ID -> where it counts (the controller's model), None: unknown (its deltas are
    #: dropped: a vport deleted meanwhile has no statistics to serve).
    place: Callable[[str], Placement | None]
    #: ACL entry ID -> whether its statistics are collected.
    entry_logged: Callable[[str], bool]
    resolutions: tuple[tuple[int, int], ...] = RESOLUTIONS
    pending: Rows = field(default_factory=dict)
    dropped: int = 0  # objects' deltas not kept (unknown vport, entry not logged)

    def add(
        self, now_s: float, vrs_id: str | None, objects: Iterable[tuple[str, str, dict[str, int]]]
    ) -> None:
        """One host's report received at ``now_s``: (kind, ID, VSD metric -> delta) per object."""
        host_total: dict[str, int] = {}
        for kind, object_id, metrics in objects:
            columns = columns_of(kind, metrics)
            if not columns:
                continue
            if kind == "vport":
                placement = self.place(object_id)
                if placement is None:
                    self.dropped += 1
                    continue
                self._add(now_s, object_id, columns)
                for parent_id in (placement.subnet_id, placement.zone_id, placement.domain_id):
                    if parent_id is not None:
                        self._add(now_s, parent_id, columns)
                for column, value in columns.items():
                    host_total[column] = host_total.get(column, 0) + value
            elif kind.endswith("aclentrytemplate"):
                if not self.entry_logged(object_id):
                    self.dropped += 1
                    continue
                self._add(now_s, object_id, columns)
        if vrs_id is not None and host_total:
            self._add(now_s, vrs_id, host_total)

    def _add(self, now_s: float, object_id: str, columns: dict[str, int]) -> None:
        resolution = min(r for r, _ in self.resolutions)
        bucket = int(now_s) // resolution * resolution
        row = self.pending.setdefault((object_id, resolution, bucket), {})
        for column, value in columns.items():
            row[column] = row.get(column, 0) + value

    def take(self) -> Rows:
        rows, self.pending = self.pending, {}
        return rows

