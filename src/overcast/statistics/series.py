"""A stored range of samples as VSD's ``statsData``: one list per metric, ``numberOfDataPoints``
values each (pure).

The range [startTime, endTime) is cut into equal slots; each slot's value is the sum of the
samples whose bucket starts in it (counts, not rates: VSD's statsData are counts per slot).
The finest stored resolution that still covers ``startTime`` serves the query.
"""

from __future__ import annotations

from collections.abc import Iterable

from .metrics import COLUMNS, METRICS

#: Most data points one query may ask for.
MAX_POINTS = 1000


class StatisticsQueryError(ValueError):
    """A query that cannot be answered as asked (names the parameter)."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def choose_resolution(start_s: int, now_s: int, resolutions: Iterable[tuple[int, int]]) -> int:
    """The finest resolution whose retention still reaches back to ``start_s`` (else the
    coarsest: older samples are gone at every resolution)."""
    ordered = sorted(resolutions)
    for resolution, retention in ordered:
        if start_s >= now_s - retention:
            return resolution
    return ordered[-1][0]


def metric_names(kind: str, asked: str | None) -> list[str]:
    """The metrics to serve for an object of ``kind``: those asked (comma-separated), or all."""
    known = METRICS.get(kind)
    if known is None:
        raise StatisticsQueryError(f"There are no statistics for a {kind}.", "metrics")
    if not asked:
        return list(known)
    names = [name.strip() for name in asked.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise StatisticsQueryError(
            f"Unknown metric {unknown[0]} for a {kind}: one of {', '.join(known)}.", "metrics"
        )
    return names


def stats_data(
    kind: str,
    names: list[str],
    samples: Iterable[tuple[int, tuple[int, ...]]],
    start_s: int,
    end_s: int,
    points: int,
) -> dict[str, list[int]]:
    """``samples`` (bucket start, the :data:`COLUMNS` values) summed into ``points`` slots."""
    width = (end_s - start_s) / points
    slots = [[0] * len(COLUMNS) for _ in range(points)]
    for bucket, values in samples:
        if bucket >= end_s:
            continue
        # A coarse bucket that began before the range (but overlaps it) counts in the first slot.
        slot = slots[min(points - 1, max(0, int((bucket - start_s) / width)))]
        for i, value in enumerate(values):
            slot[i] += value
    position = {column: i for i, column in enumerate(COLUMNS)}
    known = METRICS[kind]
    return {name: [slot[position[known[name]]] for slot in slots] for name in names}
