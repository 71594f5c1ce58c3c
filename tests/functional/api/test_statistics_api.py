"""VSD ``statistics`` as the directory serves them, driven by vspk: samples (as a controller
writes them) summed into the data points asked for, per metric; every bad query a VSD 400
naming the parameter; another tenant's vport a 404, exactly as a GET of it."""

from __future__ import annotations

import time

from vspk import v6 as vsdk

from overcast.directory.statistics_store import prune_samples, roll_up, write_samples
from overcast.statistics.rollup import RESOLUTIONS
from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import build_domain, refused, session_for


def statistics_of(parent, **params):  # type: ignore[no-untyped-def]
    found = parent.statistics.get(query_parameters={k: str(v) for k, v in params.items()})
    (only,) = found
    return only


def test_statistics_served_and_refused(directory_server: ServedDirectory) -> None:
    operator = session_for(directory_server)
    acme, globex = build_domain(operator.user, "acme"), build_domain(operator.user, "globex")
    vport = vsdk.NUVPort(name="web1", type="CONTAINER", address_spoofing="INHERITED")
    acme["sub_a"].create_child(vport)
    store = directory_server.directory.store
    start = int(time.time()) // 300 * 300 - 600  # two 5-minute slots, aligned
    rows = {
        (vport.id, 10, start + 10): {"bytes_in": 1000, "packets_in": 10},
        (vport.id, 10, start + 20): {"bytes_in": 500, "packets_in": 5},
        (vport.id, 10, start + 310): {"bytes_in": 7, "packets_out_dropped": 3},
        (acme["domain"].id, 10, start + 10): {"bytes_in": 1500},
    }
    assert write_samples(store, rows) == 4
    write_samples(store, {(vport.id, 10, start + 10): {"bytes_in": 1}})  # adds up

    stats = statistics_of(vport, startTime=start, endTime=start + 600, numberOfDataPoints=2)
    assert stats.stats_data["BYTES_IN"] == [1501, 7]
    assert stats.stats_data["PACKETS_IN"] == [15, 0]
    assert stats.stats_data["PACKETS_OUT_DROPPED"] == [0, 3]
    assert stats.number_of_data_points == 2 and stats.start_time == start
    one = statistics_of(
        vport, startTime=start, endTime=start + 600, numberOfDataPoints=60, metrics="BYTES_IN"
    )
    assert list(one.stats_data) == ["BYTES_IN"] and one.stats_data["BYTES_IN"][1:3] == [1001, 500]
    domain = statistics_of(acme["domain"], startTime=start, endTime=start + 600, numberOfDataPoints=1)
    assert domain.stats_data["BYTES_IN"] == [1500]
    # Milliseconds are understood.
    in_ms = statistics_of(vport, startTime=start * 1000, endTime=(start + 600) * 1000, numberOfDataPoints=2)
    assert in_ms.stats_data["BYTES_IN"] == [1501, 7]

    for params, parameter in (
        ({"startTime": start + 600, "endTime": start}, "startTime"),
        ({"startTime": start - 8 * 86400, "endTime": start}, "startTime"),
        ({"startTime": start, "endTime": start + 600, "numberOfDataPoints": 0}, "numberOfDataPoints"),
        ({"startTime": start, "endTime": start + 600, "numberOfDataPoints": 5000}, "numberOfDataPoints"),
        ({"startTime": "yesterday"}, "startTime"),
        ({"metrics": "BYTES_IN,INGRESS_BYTE_COUNT"}, "metrics"),
    ):
        status, text = refused(lambda p=params: statistics_of(vport, **p))
        assert status == 400 and parameter in text, (params, text)

    # Another tenant's vport does not exist for it; a tenant sees its own.
    for name, ent in (("ops", acme["ent"]), ("eve", globex["ent"])):
        ent.create_child(
            vsdk.NUUser(
                user_name=name, password="Secret-123456", first_name="a", last_name="b", email="a@b.c"
            )
        )
    eve = session_for(directory_server, "eve", "Secret-123456", "globex")
    status, _ = refused(lambda: statistics_of(vsdk.NUVPort(id=vport.id)))
    assert status == 404
    ops = session_for(directory_server, "ops", "Secret-123456", "acme")
    assert statistics_of(
        vsdk.NUVPort(id=vport.id), startTime=start, endTime=start + 600, numberOfDataPoints=2
    ).stats_data["BYTES_IN"] == [1501, 7]
    del eve, ops

    # Statistics policies: collection on or off (0) per object; a frequency that is not one is refused.
    policy = vsdk.NUStatisticsPolicy(name="off", data_collection_frequency=0)
    vport.create_child(policy)
    assert vport.statistics_policies.get()[0].data_collection_frequency == 0
    for bad in (-1, 86401):
        status, text = refused(lambda b=bad: vport.create_child(
            vsdk.NUStatisticsPolicy(name=f"bad{b}", data_collection_frequency=b)))  # fmt: skip
        assert status in (400, 409) and "dataCollectionFrequency" in text, text

    # Two hours ago: served from 5-minute buckets, rolled up from the 10-second ones exactly
    # once (a second roll-up adds nothing), still there once the 10-second ones are pruned.
    now = int(time.time())
    old = now // 3600 * 3600 - 7200
    write_samples(store, {(vport.id, 10, old + 10 * i): {"bytes_in": 10, "packets_in": 1} for i in range(60)})
    assert roll_up(store, now, RESOLUTIONS) >= 2
    assert roll_up(store, now, RESOLUTIONS) == 0
    assert prune_samples(store, now, RESOLUTIONS) >= 60
    past = statistics_of(vport, startTime=old, endTime=old + 600, numberOfDataPoints=2)
    assert past.stats_data["BYTES_IN"] == [300, 300] and past.stats_data["PACKETS_IN"] == [30, 30]
    hourly = statistics_of(vport, startTime=old - 86400, endTime=old + 3600, numberOfDataPoints=25)
    assert sum(hourly.stats_data["BYTES_IN"]) == 600  # the 1-hour tier, rolled up from 5 minutes
