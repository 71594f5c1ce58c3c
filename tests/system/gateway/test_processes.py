"""North-south with every part its own process: directory, controller, two agents on the Linux
dataplane, two gateways and an FRR router, an outside client. While a ping stream and a TCP
connection from outside reach an endpoint through its floating IP, kill -9 one gateway (the
router keeps the other's path), then the agent of the endpoint's host (restart is not failure:
nothing is withdrawn); not one packet is lost. `overcast status` says which gateway went silent
and which BGP session is down (a peer that never comes up). Then the router resets its sessions
again and again while the floating IP moves to another host: the routes converge to the move,
and the control plane goes on meanwhile."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from overcast.gateway.heartbeat import STALE_AFTER_MS
from overcast.lab import Lab
from overcast.lab.frr import Frr
from overcast.testing.builders import make_l3_subnet
from overcast.testing.ports import free_port
from overcast.testing.processes import Service

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, endpoint
from ...support.sockets import exchange, open_connection

pytestmark = [
    pytest.mark.slow,
    *needs_root,
    pytest.mark.skipif(
        not (shutil.which("gobgpd") and Path("/usr/lib/frr/bgpd").exists()), reason="needs gobgpd and FRR"
    ),  # fmt: skip
]

ROUTER, ROUTER_AS, GATEWAY_AS = "10.99.0.254", 65000, 65100
GATEWAYS = {"gw1": "10.99.0.253", "gw2": "10.99.0.252"}
NEVER_UP = "10.99.0.250"  # a peer gw2 is configured with that never answers


def status(system: ProcessSystem) -> dict[str, Any]:
    result = system.operator_cli("status", "--json")
    return dict(json.loads(result.stdout))


def lost(pinger: subprocess.Popen[str]) -> tuple[int, int]:
    """Stop a ping stream; (sent, lost)."""
    pinger.send_signal(signal.SIGINT)
    output, _ = pinger.communicate(timeout=10)
    found = re.search(r"(\d+) packets transmitted, (\d+) received", output)
    assert found, output
    sent, received = int(found[1]), int(found[2])
    return sent, sent - received


def test_north_south_survives_kill_9_of_a_gateway_and_of_the_hosting_agent(lab: Lab, tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1", "h2": "10.99.0.2"}, lab=lab)
    gateway_ns = {name: lab.host(name, address) for name, address in GATEWAYS.items()}
    router, client_ns, client_ip = lab.outside(router=ROUTER)
    frr = Frr(router, ROUTER_AS, ROUTER)
    gateways: dict[str, Service] = {}

    gw2_metrics = f"127.0.0.1:{free_port()}"

    def start_gateway(name: str) -> Service:
        peers = [f"{ROUTER}:{ROUTER_AS}"] + ([f"{NEVER_UP}:65009"] if name == "gw2" else [])
        metrics = ["--metrics-listen", gw2_metrics] if name == "gw2" else []
        return Service(
            ["gateway", "--database", system.database, "--asn", str(GATEWAY_AS), *metrics,
             "--router-id", GATEWAYS[name],
             *[arg for peer in peers for arg in ("--peer", peer)], "--bgp-netns", gateway_ns[name],
             "--state-dir", str(tmp_path / name)],
            tmp_path / f"{name}.log",
        )  # fmt: skip

    try:
        frr.start(dict.fromkeys(GATEWAYS.values(), GATEWAY_AS))
        for name in GATEWAYS:
            gateways[name] = start_gateway(name)
        client = system.client()
        net = make_l3_subnet(client, "acme", address="10.5.0.0")
        domain, subnet = net["domain"], net["subnet"]
        for direction in ("ingress", "egress"):
            client.create(f"domains/{domain['ID']}/{direction}acltemplates",
                          {"name": direction, "active": True, "defaultAllowIP": True})  # fmt: skip
        vports, containers = {}, {}
        for name, short in (("web1", "h1"), ("web2", "h2")):
            vport, mac = endpoint(client, subnet["ID"], name)
            containers[name] = lab.container(name)
            system.attach(short, vport, mac, containers[name])
            vports[name] = vport
            lab.listen(containers[name], "tcp", 80)
        lab.listen(client_ns, "tcp", 8080)
        pool = client.create("sharednetworkresources", {"name": "public", "type": "FLOATING",
                              "address": "203.0.113.0", "netmask": "255.255.255.0",
                              "gateway": "203.0.113.1"})  # fmt: skip
        fip = client.create(
            f"domains/{domain['ID']}/floatingips", {"associatedSharedNetworkResourceID": pool["ID"]}
        )
        route = f"{fip['address']}/32"
        client.update(f"vports/{vports['web1']}", {"associatedFloatingIPID": fip["ID"]})
        frr.wait_for(
            lambda: frr.bgp_routes().get(route) == ["10.99.0.1"] * 2, "a path from each gateway via h1"
        )
        frr.wait_for(lambda: frr.fib().get(route) == ["10.99.0.1"], "the route in the router's FIB")

        pinger = subprocess.Popen(["ip", "netns", "exec", client_ns, "ping", "-i", "0.05", fip["address"]],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        with open_connection(client_ns, fip["address"], 80) as conn:
            assert exchange(conn)
            # kill -9 of a gateway (and so of its gobgpd): the router drops its path only.
            gateways["gw1"].stop(kill=True)
            frr.wait_for(lambda: frr.bgp_routes().get(route) == ["10.99.0.1"], "gw1's path to go")
            assert exchange(conn)
            # kill -9 of the endpoint's agent: nothing is withdrawn, the kernel forwards on.
            system.agents["h1"].stop(kill=True)
            time.sleep(2.0)
            assert frr.bgp_routes().get(route) == ["10.99.0.1"] and frr.fib()[route] == ["10.99.0.1"]
            assert exchange(conn)
            # Status: gw1 went silent; gw2 reports and names the session that never came up.
            gateways["gw2"].wait_until(
                lambda: not {g["name"]: g for g in status(system)["gateways"]}[GATEWAYS["gw1"]]["reporting"],
                "status to show gw1 silent", timeout=STALE_AFTER_MS / 1000 + 10,
            )  # fmt: skip
            shown = {g["name"]: g for g in status(system)["gateways"]}
            assert not shown[GATEWAYS["gw1"]]["connected"]
            text = urllib.request.urlopen(f"http://{gw2_metrics}/metrics", timeout=5).read().decode()
            assert "overcast_gateway_routes_announced 1.0" in text
            assert f'overcast_gateway_bgp_session_up{{peer="{ROUTER}"}} 1.0' in text
            assert f'overcast_gateway_bgp_session_up{{peer="{NEVER_UP}"}} 0.0' in text
            assert shown[GATEWAYS["gw2"]]["connected"] and shown[GATEWAYS["gw2"]]["down"] == [NEVER_UP]
            system.restart_agent("h1")
            gateways["gw1"] = start_gateway("gw1")
            frr.wait_for(lambda: frr.bgp_routes().get(route) == ["10.99.0.1"] * 2, "gw1's path back")
            assert exchange(conn)
        sent, missing = lost(pinger)
        assert sent > 100 and missing == 0, (sent, missing)
        assert lab.seen_as(containers["web1"], client_ip, 8080) == fip["address"]

        # The router resets both sessions again and again while the floating IP moves to h2.
        client.update(f"vports/{vports['web1']}", {"associatedFloatingIPID": ""})
        for flap in range(4):
            frr.vtysh("clear ip bgp *")
            if flap == 1:
                client.update(f"vports/{vports['web2']}", {"associatedFloatingIPID": fip["ID"]})
            time.sleep(0.5)
        system.wait_matching()  # the controller and agents did not wait for BGP
        frr.wait_for(
            lambda: frr.bgp_routes().get(route) == ["10.99.0.2"] * 2, "both paths via h2 after the flaps"
        )
        frr.wait_for(lambda: frr.fib().get(route) == ["10.99.0.2"], "the moved route in the router's FIB")
        assert lab.seen_as(containers["web2"], client_ip, 8080) == fip["address"]
        assert lab.seen_as(containers["web1"], client_ip, 8080) is None  # no PAT, no floating IP
        assert all(service.process.poll() is None for service in gateways.values())
    finally:
        for service in gateways.values():
            service.stop()
        frr.stop()
        system.close()
