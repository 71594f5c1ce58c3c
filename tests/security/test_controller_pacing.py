"""A host that refuses every update is answered with snapshots at a falling pace and reported
stuck, not flooded (issue 15, finding 11: 1,137 snapshots a second)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from overcast.client.controller import ControllerClient
from overcast.controller import service as controller_service
from overcast.controller.service import STUCK_AFTER, resync_delay
from overcast.dataplane.base import DataplaneError
from overcast.dataplane.change import Change
from overcast.dataplane.memory import MemoryDataplane
from overcast.directory.controller_interface import EndpointClaim, claim_endpoints
from overcast.directory.service import SYSTEM
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ..support.control import HOSTS, attach
from ..support.vspk_topology import Shop


class RefusingDataplane(MemoryDataplane):
    """Refuses whatever it is asked to apply (a broken kernel, a full table)."""

    def apply(self, change: Change) -> None:
        raise DataplaneError("the kernel refused: no space left in the table")


def test_the_pace_of_snapshots_falls_and_doubles_to_a_bound() -> None:
    delays = [resync_delay(n) for n in range(1, 14)]
    assert delays[0] == 0 and delays[1] == pytest.approx(0.1)
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False)) and max(delays) == 30.0


def test_a_host_refusing_every_update_is_paced_and_reported(
    sqlite_server: ServedDirectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots: list[str] = []
    real = controller_service.HostSession.send_snapshot

    def counted(self: Any, message: bytes, revision: int) -> None:
        snapshots.append(self.host_id)
        real(self, message, revision)

    monkeypatch.setattr(controller_service.HostSession, "send_snapshot", counted)

    def dataplane(host: str, _address: str) -> MemoryDataplane:
        return RefusingDataplane(host) if host == "h2" else MemoryDataplane(host)

    with Cluster(sqlite_server.directory, tmp_path, HOSTS, dataplane=dataplane) as cluster:
        shop = Shop(sqlite_server)
        attach(cluster, "h1", shop, "web1")
        # web2 runs on h2 (bound as its report would): every update h2 gets from now on fails.
        claim = EndpointClaim(shop.vports["web2"].id, shop.macs["web2"], up=True)
        assert claim_endpoints(sqlite_server.directory, "h2", [claim], now_ms=2, principal=SYSTEM)[0].ok
        began = time.monotonic()
        time.sleep(3.0)
        elapsed = time.monotonic() - began
        refused = snapshots.count("h2")
        # At once, then 0.1, 0.2, 0.4, 0.8, 1.6 s: about six in three seconds (not thousands).
        assert 2 <= refused <= 10, f"{refused} snapshots to a refusing host in {elapsed:.1f} s"
        with ControllerClient(cluster.addresses()[0], credentials=("csp", "csproot", "csproot")) as client:
            hosts = {h.host_id: h for h in client.status().hosts}
        assert hosts["h2"].refusals >= STUCK_AFTER and "no space left" in hosts["h2"].last_refusal
        assert hosts["h1"].refusals == 0 and hosts["h1"].in_sync
