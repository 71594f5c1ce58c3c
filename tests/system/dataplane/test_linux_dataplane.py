"""The Linux dataplane with real namespaces and real packets, judged against the oracle: the
behaviour suite (tests/support/behaviour.py, which the memory dataplane runs too), and what only
a kernel shows — live changes, adoption after a restart, deltas against a full sync, the underlay."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from overcast.dataplane.change import Change
from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab, can_run, sh
from overcast.policy.compiler import compile_host_entries
from overcast.protocol.codec import encode_entry

from ...support.behaviour import SCENARIOS, Flow, tenants_overlap, three_tier
from ...support.linux_site import Site
from ...support.sockets import exchange, links_of, open_connection


@pytest.fixture
def site(lab: Lab) -> Iterator[tuple[Site, dict[str, str]]]:
    scenario = three_tier()
    deployed = Site(lab, scenario)
    try:
        deployed.attach_all()
        deployed.sync()
        deployed.listen_everywhere(("tcp", 3306), ("tcp", 22), ("udp", 53))
        yield deployed, scenario.names
    finally:
        deployed.close()


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_behaviour_suite_on_real_packets(name: str, lab: Lab) -> None:
    """Every scenario of the suite the memory dataplane runs (tests/unit), with real packets:
    each flow does what the oracle says."""
    scenario = SCENARIOS[name]()
    deployed = Site(lab, scenario)
    try:
        deployed.attach_all()
        deployed.sync()
        deployed.listen_for(scenario.flows)
        deployed.check(scenario.flows)
    finally:
        deployed.close()


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_nothing_floods_between_hosts(site: tuple[Site, dict[str, str]], lab: Lab) -> None:
    """The VXLAN ports have learning and every flood off, ARP suppressed."""
    deployed, _ = site
    domain_ns = deployed.dataplanes[f"{lab.tag}h1"].netns_name(deployed.world.domain)
    detail = sh("bridge", "-n", domain_ns, "-d", "link", "show").stdout
    assert "neigh_suppress on" in detail and "bcast_flood off" in detail


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_live_policy_changes_open_and_cut_flows(site: tuple[Site, dict[str, str]], lab: Lab) -> None:
    deployed, n = site
    world = deployed.world
    ssh = Flow(n["web1"], n["db1"], "tcp", 22)
    assert not deployed.observed(ssh)
    # Allow ssh web -> db: the denied flow becomes allowed, nothing restarted.
    for direction, policy, location, network in (("ingress", n["ingress"], n["web"], n["db"]),
                                                 ("egress", n["egress"], n["db"], n["web"])):  # fmt: skip
        world.entry(policy, direction, 20, locationType="POLICYGROUP", locationID=location,
                    networkType="POLICYGROUP", networkID=network, protocol="6",
                    destinationPort="22")  # fmt: skip
    deployed.sync()
    assert deployed.check([ssh])[ssh] == (True, True)

    # An established connection is cut when policy stops allowing it.
    with open_connection(deployed.containers[n["web1"]], deployed.ips[n["db1"]], 3306) as conn:
        assert exchange(conn)
        for kind in ("ingressaclentrytemplate", "egressaclentrytemplate"):
            for entry_id, entry in list(world.state.objects[kind].items()):
                if entry.get("destinationPort") == "3306":
                    del world.state.objects[kind][entry_id]
        deployed.sync()
        assert not exchange(conn)
    assert deployed.check([Flow(n["web1"], n["db1"], "tcp", 3306)])


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_a_restarted_driver_adopts_what_is_there(site: tuple[Site, dict[str, str]], lab: Lab) -> None:
    deployed, n = site
    host = f"{lab.tag}h1"
    old = deployed.dataplanes[host]
    namespace = old.netns_name(deployed.world.domain)
    before = links_of(namespace)
    old.close()
    # A new agent process: no memory, no attachments; same snapshot.
    fresh = LinuxDataplane(host, old.underlay_ip, host_netns=old.host_netns)
    deployed.dataplanes[host] = fresh
    deployed.sync()
    assert links_of(namespace) == before  # nothing recreated: same names, same ifindexes
    assert deployed.check([Flow(n["web1"], n["db1"], "tcp", 3306), Flow(n["web1"], n["db1"], "tcp", 22)])


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_one_delta_at_a_time_leaves_what_a_full_sync_leaves(site: tuple[Site, dict[str, str]]) -> None:
    """The driver writes only differences between syncs; whatever sequence of deltas it
    followed, a full sync (which reads the kernel back and repairs) must find nothing to do,
    and a fresh driver adopting the result must agree."""
    deployed, n = site
    world = deployed.world
    held = compile_host_entries(world.state)

    def step() -> None:
        nonlocal held
        deployed.attach_all()
        now = compile_host_entries(world.state)
        for host, dataplane in deployed.dataplanes.items():
            before, after = held.get(host, {}), now.get(host, {})
            upserts = {k: encode_entry(k, v) for k, v in after.items() if before.get(k) != v}
            removals = set(before) - set(after)
            if upserts or removals:
                dataplane.apply(Change(snapshot=False, upserts=upserts, removals=removals))
        held = now

    web3 = world.endpoint(world.web_net, "10.1.1.30", "h3", n["web"])  # a new endpoint, one at a time
    step()
    db3 = world.endpoint(world.db_net, "10.1.2.30", "h2", n["db"])
    step()
    world.state.members[n["web"]] -= {n["web2"]}  # a membership change: set elements only
    step()
    world.entry(n["ingress"], "ingress", 30, locationType="POLICYGROUP", locationID=n["web"],
                networkType="POLICYGROUP", networkID=n["db"], protocol="17",
                destinationPort="53")  # fmt: skip
    step()  # the rules' shape changes: a reload
    for kind in ("containerinterface", "container", "vport"):  # db1 leaves h3 (h3 keeps web3)
        objects = world.state.objects[kind]
        for object_id, obj in list(objects.items()):
            if n["db1"] in (object_id, obj.get("VPortID")) or obj.get("ID") == n["db1"]:
                del objects[object_id]
    step()
    deployed.listen_everywhere(("tcp", 3306))
    flows = [
        Flow(web3, db3, "tcp", 3306),
        Flow(n["web1"], db3, "tcp", 3306),
        Flow(n["web2"], db3, "tcp", 3306),
    ]
    assert deployed.check(flows)[flows[0]] == (True, True)

    def kernel() -> dict[str, dict[str, Any]]:
        return {h: kernel_state(d.netns_name(world.domain)) for h, d in deployed.dataplanes.items()}

    after_deltas = kernel()
    deployed.sync()
    assert kernel() == after_deltas
    for host, old in list(deployed.dataplanes.items()):
        old.close()
        deployed.dataplanes[host] = LinuxDataplane(host, old.underlay_ip, host_netns=old.host_netns)
    deployed.sync()
    assert kernel() == after_deltas
    assert deployed.check(flows)


def kernel_state(namespace: str) -> dict[str, Any]:
    """What a domain namespace holds, as the tools show it (sorted; counters left out)."""
    neighbours = sh("ip", "-n", namespace, "neigh", "show", "nud", "permanent").stdout
    return {
        "links": links_of(namespace),
        "fdb": sorted(sh("bridge", "-n", namespace, "fdb", "show").stdout.splitlines()),
        "neighbours": sorted(neighbours.splitlines()),
        "addresses": sorted(sh("ip", "-n", namespace, "-br", "addr", "show").stdout.splitlines()),
        "ruleset": re.sub(
            r"counter packets \d+ bytes \d+",
            "counter",
            sh("ip", "netns", "exec", namespace, "nft", "list", "ruleset").stdout,
        ),
    }


class UnderlayCapture:
    """VXLAN frames seen on the underlay (AF_PACKET on every port of the underlay namespace:
    frames a bridge forwards between its ports never reach the bridge device itself)."""

    def __init__(self, lab: Lab) -> None:
        from pyroute2 import netns

        netns.pushns(lab.underlay)
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        finally:
            netns.popns()
        self.sock.settimeout(0.2)
        self.inner: list[tuple[str, int]] = []  # (inner destination MAC, inner ethertype)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.sock.recv(65535)
            except TimeoutError:
                continue
            # Ethernet(14) IPv4(20, no options here) UDP(8) VXLAN(8) inner Ethernet
            if len(frame) < 64 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
                continue
            if int.from_bytes(frame[36:38], "big") != 4789:
                continue
            inner = frame[50:]
            self.inner.append((inner[0:6].hex(":"), int.from_bytes(inner[12:14], "big")))

    def stop(self) -> list[tuple[str, int]]:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        return self.inner


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_tenants_overlap_without_flooding_the_underlay(lab: Lab) -> None:
    """Two tenants with the same addresses: what crosses the underlay is unicast VXLAN, never
    ARP or a broadcast, and an unknown address sends nothing out of the host."""
    scenario = tenants_overlap()
    n = scenario.names
    deployed = Site(lab, scenario)
    try:
        deployed.attach_all()
        deployed.sync()
        deployed.listen_for(scenario.flows)
        capture = UnderlayCapture(lab)
        for netns in deployed.containers.values():
            sh("ip", "-n", netns, "neigh", "flush", "all")
        deployed.check(scenario.flows)
        web1 = deployed.containers[n["web1"]]
        assert not lab.pings(web1, "10.1.1.99")  # unknown address: nothing leaves the host
        inner = capture.stop()
        assert inner, "cross-host traffic must show up as VXLAN on the underlay"
        assert all(ethertype != 0x0806 for _, ethertype in inner), "ARP inside VXLAN"
        assert all(mac != "ff:ff:ff:ff:ff:ff" for mac, _ in inner), "broadcast inside VXLAN"
    finally:
        deployed.close()


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_arp_resolves_while_non_ip_is_denied(lab: Lab) -> None:
    """defaultAllowNonIP=false denies raw frames (the suite checks that) but never ARP: the
    bridge answers for every known endpoint and for the gateway."""
    scenario = SCENARIOS["non-ip-denied"]()
    n = scenario.names
    deployed = Site(lab, scenario)
    try:
        deployed.attach_all()
        deployed.sync()
        for netns in deployed.containers.values():
            sh("ip", "-n", netns, "neigh", "flush", "all")
        a = deployed.containers[n["a"]]
        assert lab.pings(a, deployed.ips[n["b"]])  # across hosts
        assert lab.pings(a, deployed.ips[n["c"]])  # on one bridge
        assert lab.pings(a, "10.1.1.1")  # the gateway
        assert not deployed.observed(Flow(n["a"], n["b"], "raw", ether_type=0x88B5))
    finally:
        deployed.close()
