"""``GET /<resource>/<id>/statistics``: VSD's statistics of one object, as its caller may see it.

The object is read first with the caller's rights (another tenant's object is a 404, exactly as
a GET of it); then its samples (:mod:`.statistics_store`) at the finest resolution that still
covers the range are summed into ``numberOfDataPoints`` slots (:mod:`overcast.statistics.series`).

Parameters (query string, VSD's names): ``startTime``, ``endTime`` — seconds since the epoch
(milliseconds are recognised by their size); default the last hour; ``numberOfDataPoints`` —
default one per stored bucket of the range, at most :data:`~overcast.statistics.series.MAX_POINTS`;
``metrics`` (or ``metricTypes``) — comma-separated VSD metric names, default all the object's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..statistics.rollup import RESOLUTIONS
from ..statistics.series import MAX_POINTS, StatisticsQueryError, choose_resolution, metric_names, stats_data
from .errors import bad_request, not_found
from .schema import REGISTRY
from .statistics_store import read_samples

if TYPE_CHECKING:
    from .principals import Principal
    from .service import Directory

#: Resources whose statistics are served, and the kind of series each has (interfaces serve
#: their vport's).
SERVED = {
    "vports": "vport",
    "subnets": "subnet",
    "zones": "zone",
    "domains": "domain",
    "vrss": "vrs",
    "ingressaclentrytemplates": "ingressaclentrytemplate",
    "egressaclentrytemplates": "egressaclentrytemplate",
    "containerinterfaces": "vport",
    "vminterfaces": "vport",
}

#: The longest range one query may cover: the coarsest resolution's retention.
MAX_RANGE_S = max(retention for _, retention in RESOLUTIONS)


def _time(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise bad_request(f"{name} must be a time in seconds since the epoch.", prop=name) from None
    if value < 0:
        raise bad_request(f"{name} must be a time in seconds since the epoch.", prop=name)
    return value // 1000 if value > 100_000_000_000 else value  # milliseconds


def statistics(
    directory: Directory, principal: Principal, resource: str, object_id: str, params: Mapping[str, str]
) -> list[dict[str, Any]]:
    kind = SERVED.get(resource)
    if kind is None:
        raise not_found("statistics", "")
    obj = directory.get(principal, resource, object_id)  # the caller's rights: 404 if unseen
    series_id = obj.get("VPortID") if resource.endswith("interfaces") else object_id
    now_s = int(time.time())
    end_s = _time(params, "endTime", now_s)
    start_s = _time(params, "startTime", end_s - 3600)
    if start_s >= end_s:
        raise bad_request("startTime must be before endTime.", prop="startTime")
    if end_s - start_s > MAX_RANGE_S:
        raise bad_request(
            f"The range is too long: at most {MAX_RANGE_S} seconds (samples are kept that long).",
            prop="startTime",
        )
    resolution = choose_resolution(start_s, now_s, RESOLUTIONS)
    raw_points = params.get("numberOfDataPoints")
    if raw_points is None or raw_points.strip() == "":
        points = min(MAX_POINTS, max(1, -(-(end_s - start_s) // resolution)))
    else:
        try:
            points = int(raw_points)
        except ValueError:
            raise bad_request("numberOfDataPoints must be an integer.", prop="numberOfDataPoints") from None
        if not 1 <= points <= MAX_POINTS:
            raise bad_request(
                f"numberOfDataPoints must be between 1 and {MAX_POINTS}.", prop="numberOfDataPoints"
            )
    try:
        names = metric_names(kind, params.get("metrics") or params.get("metricTypes"))
    except StatisticsQueryError as exc:
        raise bad_request(str(exc), prop=exc.parameter) from None
    samples = read_samples(directory.store, series_id or "", resolution, start_s, end_s) if series_id else []
    return [
        {
            "ID": object_id,
            "parentID": object_id,
            "parentType": REGISTRY.by_resource[resource].rest_name,
            "startTime": start_s,
            "endTime": end_s,
            "numberOfDataPoints": points,
            "statsData": stats_data(kind, names, samples, start_s, end_s, points),
        }
    ]
