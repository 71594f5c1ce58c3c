"""Gateways keep FRR's routes equal to the directory's: a floating IP assigned is announced
with its host as next hop, unassigned is withdrawn, an advertised subnet is announced; with two
gateways, kill -9 of one's BGP daemon leaves the routes in FRR's FIB (the other's paths stay)
and the gateway starts it again; a stopped gateway's paths go.
(kill -9 of a whole gateway process, with traffic: tests/system/gateway/test_processes.py.)"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from overcast.directory.controller_interface import EndpointClaim, claim_endpoints, register_host
from overcast.directory.db import Store, migrate
from overcast.directory.service import SYSTEM, Directory
from overcast.gateway.service import GatewayService
from overcast.gateway.speaker import Speaker
from overcast.lab import Lab
from overcast.lab.frr import Frr

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("gobgpd") and Path("/usr/lib/frr/bgpd").exists()), reason="needs gobgpd and FRR"
    ),  # fmt: skip
]


def create(
    directory: Directory, parent: str, parent_id: str | None, resource: str, **body: Any
) -> dict[str, Any]:
    return directory.create(SYSTEM, parent, parent_id, resource, body)


def endpoint(directory: Directory, subnet_id: str, host: str) -> str:
    """A container on ``subnet_id``, running on ``host`` (as its agent would report)."""
    vport = create(directory, "subnets", subnet_id, "vports", name=uuid.uuid4().hex[:8], type="CONTAINER",
                   addressSpoofing="INHERITED")  # fmt: skip
    mac = "02:" + os.urandom(5).hex(":")
    create(directory, "me", None, "containers", name=vport["name"], UUID=str(uuid.uuid4()),
           interfaces=[{"MAC": mac, "VPortID": vport["ID"]}])  # fmt: skip
    (result,) = claim_endpoints(directory, host, [EndpointClaim(vport["ID"], mac, True)], now_ms=2,
                                principal=SYSTEM)  # fmt: skip
    assert result.ok, result.error
    return str(vport["ID"])


def gateways_recorded(directory: Directory) -> list[dict[str, Any]]:
    return directory.listing(SYSTEM, "me", None, "gateways").items


def test_routes_follow_the_directory_and_survive_a_gateway(lab: Lab, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'directory.db'}")
    migrate(store)
    directory = Directory(store)
    ent = create(directory, "me", None, "enterprises", name="acme")
    template = create(directory, "enterprises", ent["ID"], "domaintemplates", name="t")
    domain = create(directory, "enterprises", ent["ID"], "domains", name="d", templateID=template["ID"])
    zone = create(directory, "domains", domain["ID"], "zones", name="z")
    web = create(
        directory, "zones", zone["ID"], "subnets", name="web", address="10.1.1.0", netmask="255.255.255.0"
    )
    public = create(directory, "zones", zone["ID"], "subnets", name="pub", address="198.51.200.0",
                    netmask="255.255.255.0", advertise=True)  # fmt: skip
    for host, address in (("h1", "10.99.0.1"), ("h2", "10.99.0.2")):
        lab.host(host, address)
        register_host(directory, host, address, now_ms=1)
    web1 = endpoint(directory, web["ID"], "h1")
    endpoint(directory, public["ID"], "h2")
    pool = create(directory, "me", None, "sharednetworkresources", name="fips", type="FLOATING",
                  address="203.0.113.0", netmask="255.255.255.0", gateway="203.0.113.1")  # fmt: skip
    fip = create(
        directory, "domains", domain["ID"], "floatingips", associatedSharedNetworkResourceID=pool["ID"]
    )

    router, _client, _ = lab.outside()
    gateways = {"gw1": "10.99.0.253", "gw2": "10.99.0.252"}
    frr = Frr(router, 65000, "10.99.0.254")
    frr.start(dict.fromkeys(gateways.values(), 65100))
    services = [
        GatewayService(directory, Speaker(65100, address, tmp_path / name, netns=lab.host(name, address)),
                       {"10.99.0.254": 65000})
        for name, address in gateways.items()
    ]  # fmt: skip
    route = f"{fip['address']}/32"

    async def scenario() -> None:
        for service in services:
            await service.start()
        try:
            wait = asyncio.to_thread
            await wait(
                frr.wait_for,
                lambda: frr.fib().get("198.51.200.0/24") == ["10.99.0.2"],
                "the advertised subnet",
            )
            assert route not in frr.fib()  # allocated, not assigned: nothing to route
            both = lambda: set(frr.session_states().values()) == {"Established"}  # noqa: E731
            await wait(frr.wait_for, both, "both gateways' sessions")
            await asyncio.gather(*(service.record(now=True) for service in services))
            recorded = {g["name"]: g for g in gateways_recorded(directory)}
            assert set(recorded) == set(gateways.values())  # named by router ID
            assert all(g["gatewayConnected"] and g["personality"] == "VRSG" for g in recorded.values())
            assert recorded["10.99.0.253"]["peer"] == "10.99.0.254 established"
            directory.update(SYSTEM, "vports", web1, {"associatedFloatingIPID": fip["ID"]}, confirmed=True)
            await wait(frr.wait_for, lambda: frr.fib().get(route) == ["10.99.0.1"], "the floating IP")
            two = lambda: len(frr.show("show ip bgp")["routes"].get(route, [])) == 2  # noqa: E731
            await wait(frr.wait_for, two, "a path from each gateway")
            # kill -9 of one gateway's gobgpd: the gateway starts it again and announces again;
            # meanwhile the other's path carries the route.
            speaker = services[0].speaker
            assert speaker.process is not None
            killed = speaker.process.pid
            os.kill(killed, signal.SIGKILL)

            def restarted() -> bool:
                assert frr.fib().get(route) == ["10.99.0.1"]  # at every look
                return speaker.process is not None and speaker.process.pid != killed and two()

            await wait(frr.wait_for, restarted, "the restarted speaker's path")
            # A gateway stopped: its path goes, the other's stays; its record says so.
            await services[0].stop()
            await wait(frr.wait_for, lambda: len(frr.show("show ip bgp")["routes"].get(route, [])) == 1,
                       "the stopped gateway's path to go")  # fmt: skip
            assert frr.fib().get(route) == ["10.99.0.1"]
            directory.update(
                SYSTEM, "vports", web1, {"associatedFloatingIPID": ""}, confirmed=True
            )  # "": unassigned (null means "unchanged")
            await wait(frr.wait_for, lambda: route not in frr.fib(), "the withdrawal")
            await asyncio.gather(*(service.record(now=True) for service in services))
            recorded = {g["name"]: g for g in gateways_recorded(directory)}
            assert not recorded["10.99.0.253"]["gatewayConnected"]  # its speaker is gone: it says so
            assert recorded["10.99.0.253"]["peer"] == "the BGP speaker is not running"
            assert recorded["10.99.0.252"]["gatewayConnected"]
        finally:
            for service in services:
                await service.stop()

    try:
        asyncio.run(scenario())
    finally:
        frr.stop()
        store.dispose()
