"""Statistics, pure parts: an agent's readings and deltas (never negative, a reset counts from
zero, deltas of a monotonic counter add up to its growth), the controller's roll-up, and the
series a query gets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from overcast.statistics.counting import deltas, readings
from overcast.statistics.rollup import Placement, Rollup
from overcast.statistics.series import choose_resolution, stats_data

KEY = ("vport", "v1", "d1")


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=20))
def test_deltas_never_negative_and_add_up_between_resets(values: list[int]) -> None:
    previous: dict = {}
    total = 0
    for value in values:
        moved = deltas(previous, {KEY: {"BYTES_IN": value}})
        delta = moved.get(KEY, {}).get("BYTES_IN", 0)
        assert delta >= 0
        before = previous.get(KEY, {}).get("BYTES_IN", 0)
        assert delta == (value - before if value >= before else value)
        total += delta
        previous = {KEY: {"BYTES_IN": value}}
    if values == sorted(values):
        assert total == values[-1]


def test_readings_name_vsd_metrics_and_leave_defaults_out() -> None:
    counted = {
        "d1": {
            "ingress": {"e1": [3, 300], "default": [9, 900]},
            "egress": {"e2": [1, 60]},
            "endpoints": {"v1": {"sent": [5, 500], "received": [4, 400], "dropped_sent": [1, 84],
                                 "dropped_received": [2, 168]}},
        }
    }  # fmt: skip
    assert readings(counted) == {
        ("ingressaclentrytemplate", "e1", "d1"): {"INGRESS_PACKET_COUNT": 3, "INGRESS_BYTE_COUNT": 300},
        ("egressaclentrytemplate", "e2", "d1"): {"EGRESS_PACKET_COUNT": 1, "EGRESS_BYTE_COUNT": 60},
        ("vport", "v1", "d1"): {"PACKETS_IN": 5, "BYTES_IN": 500, "PACKETS_OUT": 4, "BYTES_OUT": 400,
                                "PACKETS_IN_DROPPED": 1, "PACKETS_OUT_DROPPED": 2},
    }  # fmt: skip


def test_rollup_places_vports_and_keeps_logged_entries_only() -> None:
    rollup = Rollup(
        lambda v: Placement("s1", "z1", "d1") if v == "v1" else None,
        lambda e: e == "logged",
        resolutions=((10, 3600), (300, 86400)),
    )
    reported = [
        ("vport", "v1", {"BYTES_IN": 100}),
        ("vport", "gone", {"BYTES_IN": 1}),
        ("ingressaclentrytemplate", "logged", {"INGRESS_PACKET_COUNT": 2}),
        ("ingressaclentrytemplate", "quiet", {"INGRESS_PACKET_COUNT": 2}),
    ]
    rollup.add(1005.0, "vrs1", reported)
    rollup.add(1012.0, "vrs2", [("vport", "v1", {"BYTES_IN": 50})])
    rows = rollup.take()
    assert rows[("v1", 10, 1000)] == {"bytes_in": 100}
    assert rows[("v1", 10, 1010)] == {"bytes_in": 50}
    assert not any(key[1] == 300 for key in rows)  # coarser ones: the store rolls them up
    for parent in ("s1", "z1", "d1"):
        assert rows[(parent, 10, 1000)] == {"bytes_in": 100} and rows[(parent, 10, 1010)] == {"bytes_in": 50}
    assert rows[("vrs1", 10, 1000)] == {"bytes_in": 100}
    assert rows[("logged", 10, 1000)] == {"packets_in": 2}
    assert not any(key[0] in ("gone", "quiet") for key in rows)
    assert rollup.dropped == 2 and rollup.take() == {}


def test_series_slots_and_resolution() -> None:
    samples = [(1000, (1, 10, 0, 0, 0, 0)), (1050, (2, 20, 0, 0, 0, 0)), (1090, (4, 40, 0, 0, 0, 0))]
    assert stats_data("vport", ["PACKETS_IN", "BYTES_IN"], samples, 1000, 1100, 2) == {
        "PACKETS_IN": [1, 6],
        "BYTES_IN": [10, 60],
    }
    resolutions = ((10, 3600), (300, 7 * 86400))
    assert choose_resolution(10_000 - 3000, 10_000, resolutions) == 10
    assert choose_resolution(10_000 - 4000, 10_000, resolutions) == 300
