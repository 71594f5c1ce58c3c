"""The Linux driver's failure contract (dataplane/base.py): apply() changes all of it or raises
and changes nothing of the desired state it plans from. No root: the kernel is made to refuse."""

from __future__ import annotations

import copy

import pytest
from pyroute2 import NetlinkError

from overcast.dataplane.base import DataplaneError
from overcast.dataplane.change import Change
from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.policy.compiler import compile_host_entries
from overcast.protocol.codec import encode_entry

from ..support.world import World


def host_entries(world: World) -> dict:
    return compile_host_entries(world.state)["h1"]


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> LinuxDataplane:
    dataplane = LinuxDataplane("h1", "192.0.2.1")
    monkeypatch.setattr(LinuxDataplane, "_reconcile", lambda self, touched, full: None)
    yield dataplane
    dataplane._worker.shutdown()


def refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self: LinuxDataplane, touched: set[str], full: bool) -> None:
        raise NetlinkError(17, "File exists")

    monkeypatch.setattr(LinuxDataplane, "_reconcile", failing)


def test_a_refused_delta_or_snapshot_leaves_the_desired_state_as_it_was(
    driver: LinuxDataplane, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World()
    group = world.group()
    world.endpoint(world.web_net, "10.1.1.10", "h1", group)
    world.endpoint(world.db_net, "10.1.2.10", "h2", group)
    before = host_entries(world)
    driver.apply(Change(snapshot=True, upserts={k: encode_entry(k, v) for k, v in before.items()}))
    held = copy.deepcopy(driver.domains)
    assert sum(len(e) for e in held.values()) == len(before)

    world.endpoint(world.web_net, "10.1.1.11", "h1", group)  # adds an endpoint, changes a set
    after = host_entries(world)
    upserts = {k: encode_entry(k, v) for k, v in after.items() if before.get(k) != v}
    removals = {next(k for k in before if k[0] == "endpoint" and before[k].host_id == "h2")}
    assert upserts and removals
    refuse(monkeypatch)
    with pytest.raises(DataplaneError, match="File exists"):
        driver.apply(Change(snapshot=False, upserts=upserts, removals=removals))
    assert driver.domains == held
    with pytest.raises(DataplaneError):
        driver.apply(Change(snapshot=True, upserts={k: encode_entry(k, v) for k, v in after.items()}))
    assert driver.domains == held
