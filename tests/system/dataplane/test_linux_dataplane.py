"""The Linux dataplane with real namespaces and real packets, judged against the oracle."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from overcast.dataplane.base import Attachment
from overcast.dataplane.change import Change
from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab, can_run, sh
from overcast.policy.compiler import compile_host_entries, compile_hosts
from overcast.policy.oracle import Packet, verdict
from overcast.protocol.codec import encode_entry

from ...support.sockets import exchange, links_of, open_connection
from ...support.world import World


class Site:
    """A World (directory state) deployed on a lab: one LinuxDataplane per host."""

    def __init__(self, lab: Lab, world: World) -> None:
        self.lab, self.world = lab, world
        self.dataplanes: dict[str, LinuxDataplane] = {}
        self.containers: dict[str, str] = {}  # vport ID -> container netns
        self.ips: dict[str, str] = {}  # vport ID -> IP
        self.listening: set[tuple[str, str, int]] = set()
        for index, (short, vrs_id) in enumerate(sorted(world.hosts.items()), start=1):
            host_ns = lab.host(short, f"10.99.0.{index}")
            vrs = world.state.objects["vrs"][vrs_id]
            vrs.update(name=f"{lab.tag}{short}", address=f"10.99.0.{index}")
            self.dataplanes[vrs["name"]] = LinuxDataplane(vrs["name"], vrs["address"], host_netns=host_ns)
        for subnet in world.state.objects["subnet"].values():
            subnet["gatewayMACAddress"] = f"02:ac:00:00:{subnet['vnId'] % 256:02x}:01"

    def attach_all(self) -> None:
        for interface in self.world.state.objects["containerinterface"].values():
            container = self.world.state.objects["container"][interface["parentID"]]
            host = self.world.state.objects["vrs"][container["VRSID"]]["name"]
            vport = interface["VPortID"]
            if vport not in self.containers:
                self.containers[vport] = self.lab.container(vport.replace("vport-", "v"))
                self.ips[vport] = interface["IPAddress"]
            self.dataplanes[host].attach(Attachment(vport, interface["MAC"], self.containers[vport]))

    def sync(self) -> None:
        """Give every host a snapshot of what a fresh compile says it needs."""
        per_host = compile_host_entries(self.world.state)
        for host, dataplane in self.dataplanes.items():
            upserts = {k: encode_entry(k, v) for k, v in per_host.get(host, {}).items()}
            dataplane.apply(Change(snapshot=True, upserts=upserts))

    def expected(self, src: str, dst: str, proto: str, port: int) -> bool:
        """The oracle's verdict for a new flow between two vports."""
        protocol = {"tcp": 6, "udp": 17, "icmp": 1}[proto]
        packet = Packet(
            self.ips[src],
            self.ips[dst],
            protocol=protocol,
            dport=port,
            icmp_type=8 if proto == "icmp" else None,
        )
        views = compile_hosts(self.world.state)
        src_domain = next(
            d.id for v in views.values() for d in v.domains for e in d.local if e.vport_id == src
        )
        dst_domain = next(
            d.id for v in views.values() for d in v.domains for e in d.local if e.vport_id == dst
        )
        if src_domain != dst_domain:
            return False
        only = {h: type(v)(h, tuple(d for d in v.domains if d.id == src_domain)) for h, v in views.items()}
        return verdict(only, packet).allowed

    def observed(self, src: str, dst: str, proto: str, port: int) -> bool:
        """Whether real packets get through."""
        if proto == "icmp":
            return self.lab.pings(self.containers[src], self.ips[dst])
        return self.lab.connects(self.containers[src], proto, self.ips[dst], port)

    def listen_everywhere(self, *services: tuple[str, int]) -> None:
        """Listeners in every container that does not have them yet."""
        for netns in self.containers.values():
            for proto, port in services:
                if (netns, proto, port) not in self.listening:
                    self.lab.listen(netns, proto, port)
                    self.listening.add((netns, proto, port))

    def check(self, flows: list[tuple[str, str, str, int]]) -> dict[Any, tuple[bool, bool]]:
        results = {flow: (self.expected(*flow), self.observed(*flow)) for flow in flows}
        assert all(expected == observed for expected, observed in results.values()), results
        return results

    def close(self) -> None:
        for dataplane in self.dataplanes.values():
            dataplane.close()


def three_tier(world: World) -> dict[str, str]:
    """web (h1, h2), db (h3, h1); web -> db tcp/3306 and ping allowed, the rest denied."""
    web, db = world.group(), world.group()
    vports = {
        "web1": world.endpoint(world.web_net, "10.1.1.10", "h1", web),
        "web2": world.endpoint(world.web_net, "10.1.1.20", "h2", web),
        "db1": world.endpoint(world.db_net, "10.1.2.10", "h3", db),
        "db2": world.endpoint(world.db_net, "10.1.2.20", "h1", db),
    }
    ingress, egress = world.policy("ingress"), world.policy("egress")
    vports.update(web=web, db=db, ingress=ingress, egress=egress)
    for proto, port in (("6", "3306"), ("1", None)):
        match: dict[str, Any] = {"protocol": proto}
        if port:
            match["destinationPort"] = port
        world.entry(ingress, "ingress", 10, locationType="POLICYGROUP", locationID=web,
                    networkType="POLICYGROUP", networkID=db, **match)  # fmt: skip
        world.entry(egress, "egress", 10, locationType="POLICYGROUP", locationID=db,
                    networkType="POLICYGROUP", networkID=web, **match)  # fmt: skip
    return vports


@pytest.fixture
def site(lab: Lab) -> Iterator[tuple[Site, dict[str, str]]]:
    world = World()
    names = three_tier(world)
    deployed = Site(lab, world)
    try:
        deployed.attach_all()
        deployed.sync()
        deployed.listen_everywhere(("tcp", 3306), ("tcp", 22), ("udp", 53))
        yield deployed, names
    finally:
        deployed.close()


def matrix(n: dict[str, str]) -> list[tuple[str, str, str, int]]:
    """The behaviour suite both dataplanes run: (source vport, destination vport, proto, port)."""
    return [
        (n["web1"], n["db1"], "tcp", 3306),  # routed across hosts, allowed
        (n["web1"], n["db2"], "tcp", 3306),  # routed on one host, allowed
        (n["web2"], n["db1"], "icmp", 0),  # allowed ping
        (n["web1"], n["db1"], "tcp", 22),  # wrong port
        (n["db1"], n["web1"], "tcp", 3306),  # wrong direction
        (n["web1"], n["web2"], "tcp", 3306),  # same subnet across hosts, no rule
        (n["web1"], n["db1"], "udp", 53),  # wrong protocol
    ]


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_three_hosts_policy_matrix_matches_the_oracle(site: tuple[Site, dict[str, str]], lab: Lab) -> None:
    deployed, n = site
    flows = matrix(n)
    results = deployed.check(flows)
    assert results[flows[0]] == (True, True) and results[flows[3]] == (False, False)
    # Nothing floods: the VXLAN ports have learning and every flood off, ARP suppressed.
    domain_ns = deployed.dataplanes[f"{lab.tag}h1"].netns_name(deployed.world.domain)
    detail = sh("bridge", "-n", domain_ns, "-d", "link", "show").stdout
    assert "neigh_suppress on" in detail and "bcast_flood off" in detail


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_live_policy_changes_open_and_cut_flows(site: tuple[Site, dict[str, str]], lab: Lab) -> None:
    deployed, n = site
    world = deployed.world
    assert not deployed.observed(n["web1"], n["db1"], "tcp", 22)
    # Allow ssh web -> db: the denied flow becomes allowed, nothing restarted.
    for direction, policy, location, network in (("ingress", n["ingress"], n["web"], n["db"]),
                                                 ("egress", n["egress"], n["db"], n["web"])):  # fmt: skip
        world.entry(policy, direction, 20, locationType="POLICYGROUP", locationID=location,
                    networkType="POLICYGROUP", networkID=network, protocol="6",
                    destinationPort="22")  # fmt: skip
    deployed.sync()
    assert deployed.check([(n["web1"], n["db1"], "tcp", 22)])[(n["web1"], n["db1"], "tcp", 22)] == (
        True,
        True,
    )

    # An established connection is cut when policy stops allowing it.
    with open_connection(deployed.containers[n["web1"]], deployed.ips[n["db1"]], 3306) as conn:
        assert exchange(conn)
        for kind in ("ingressaclentrytemplate", "egressaclentrytemplate"):
            for entry_id, entry in list(world.state.objects[kind].items()):
                if entry.get("destinationPort") == "3306":
                    del world.state.objects[kind][entry_id]
        deployed.sync()
        assert not exchange(conn)
    assert deployed.check([(n["web1"], n["db1"], "tcp", 3306)])


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
    assert deployed.check([(n["web1"], n["db1"], "tcp", 3306), (n["web1"], n["db1"], "tcp", 22)])


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
    flows = [(web3, db3, "tcp", 3306), (n["web1"], db3, "tcp", 3306), (n["web2"], db3, "tcp", 3306)]
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
        "ruleset": sh("ip", "netns", "exec", namespace, "nft", "list", "ruleset").stdout,
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
def test_tenants_overlap_without_meeting_and_nothing_floods(lab: Lab) -> None:
    world = World()
    n = three_tier(world)
    other = World()
    other.state, other.hosts = world.state, world.hosts  # a second tenant, same addresses
    other.domain = other.add("domain", parentID="ent-2", name="d2")
    other.zone = other.add("zone", parentID=other.domain, parentType="domain")
    other_web, other_db = other.subnet("10.1.1.0"), other.subnet("10.1.2.0")
    x1 = other.endpoint(other_web, "10.1.1.10", "h2")
    x2 = other.endpoint(other_db, "10.1.2.10", "h1")
    for tenant in (world, other):  # allow everything: isolation must come from the domains
        tenant.allow_all_ingress()
        tenant.allow_all_egress()
    deployed = Site(lab, world)
    try:
        deployed.attach_all()
        deployed.sync()
        lab.listen(deployed.containers[n["db1"]], "tcp", 3306)
        lab.listen(deployed.containers[x2], "tcp", 8080)
        capture = UnderlayCapture(lab)
        for netns in deployed.containers.values():
            sh("ip", "-n", netns, "neigh", "flush", "all")
        web1 = deployed.containers[n["web1"]]
        assert lab.connects(web1, "tcp", "10.1.2.10", 3306)  # its own tenant's db1 (h1 -> h3)
        assert not lab.connects(web1, "tcp", "10.1.2.10", 8080)  # the other tenant's listener
        assert lab.connects(deployed.containers[x1], "tcp", "10.1.2.10", 8080)  # h2 -> h1, tenant 2
        assert not lab.connects(deployed.containers[x1], "tcp", "10.1.2.10", 3306)
        assert lab.pings(web1, "10.1.1.20")  # same subnet across hosts (h1 -> h2)
        assert not lab.pings(web1, "10.1.1.99")  # unknown address: nothing leaves the host
        inner = capture.stop()
        assert inner, "cross-host traffic must show up as VXLAN on the underlay"
        assert all(ethertype != 0x0806 for _, ethertype in inner), "ARP inside VXLAN"
        assert all(mac != "ff:ff:ff:ff:ff:ff" for mac, _ in inner), "broadcast inside VXLAN"
    finally:
        deployed.close()


def test_the_memory_dataplane_runs_the_same_suite() -> None:
    """The matrix above, traced through memory dataplanes fed the same way: same verdicts."""
    from overcast.dataplane.memory import MemoryDataplane, trace_between

    world = World()
    n = three_tier(world)
    per_host = compile_host_entries(world.state)
    dataplanes = {host: MemoryDataplane(host) for host in per_host}
    for host, dataplane in dataplanes.items():
        dataplane.apply(
            Change(snapshot=True, upserts={k: encode_entry(k, v) for k, v in per_host[host].items()})
        )
    views = compile_hosts(world.state)
    where = {e.vport_id: (h, e.ip) for h, v in views.items() for d in v.domains for e in d.local}
    for src, dst, proto, port in matrix(n):
        protocol = {"tcp": 6, "udp": 17, "icmp": 1}[proto]
        packet = Packet(where[src][1], where[dst][1], protocol=protocol, dport=port,
                        icmp_type=8 if proto == "icmp" else None)  # fmt: skip
        traced = trace_between(dataplanes, where[src][0], packet, world.domain)
        assert traced.delivered == verdict(views, packet).allowed, (src, dst, proto, port, traced)


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_brackets_ranges_zones_macros_relative_and_stateless_match_the_oracle(lab: Lab) -> None:
    """Every kind of match the compiler emits, on real packets, against the oracle."""
    world = World()
    other_zone = world.add("zone", parentID=world.domain, parentType="domain")
    far_net = world.subnet("10.1.3.0", zone=other_zone)
    web, db = world.group(), world.group()
    n = {
        "web1": world.endpoint(world.web_net, "10.1.1.10", "h1", web),
        "web2": world.endpoint(world.web_net, "10.1.1.20", "h2", web),
        "db1": world.endpoint(world.db_net, "10.1.2.10", "h3", db),
        "far1": world.endpoint(far_net, "10.1.3.10", "h2"),
    }
    macro = world.add("enterprisenetwork", parentID="ent-1", address="10.1.3.0", netmask="255.255.255.0")
    world.allow_all_egress()  # judge ingress translation here; egress has its own test above
    top = world.policy("ingress", bracket="TOP", priority=1)
    middle = world.policy("ingress", priority=5)
    bottom = world.policy("ingress", bracket="BOTTOM", priority=1, allow_ip=True)
    # TOP: web may never reach db on 22 (even though BOTTOM's default would allow it)
    world.entry(top, "ingress", 1, action="DROP", locationType="POLICYGROUP", locationID=web,
                networkType="POLICYGROUP", networkID=db, protocol="6", destinationPort="22")  # fmt: skip
    # a port range to a subnet, a zone, and the macro
    world.entry(middle, "ingress", 1, locationType="POLICYGROUP", locationID=web, networkType="SUBNET",
                networkID=world.db_net, protocol="6", destinationPort="8000-8100")  # fmt: skip
    world.entry(middle, "ingress", 2, action="DROP", locationType="ANY", networkType="ZONE",
                networkID=other_zone, protocol="17")  # fmt: skip
    world.entry(middle, "ingress", 3, action="DROP", locationType="ANY", networkType="ENTERPRISE_NETWORK",
                networkID=macro, protocol="6", destinationPort="9000")  # fmt: skip
    # within one's own subnet: ssh denied (relative to the sending endpoint)
    world.entry(middle, "ingress", 4, action="DROP", locationType="ANY", networkType="ENDPOINT_SUBNET",
                protocol="6", destinationPort="22")  # fmt: skip
    # BOTTOM: no ICMP at all
    world.entry(bottom, "ingress", 1, action="DROP", locationType="ANY", networkType="ANY", protocol="1")
    deployed = Site(lab, world)
    try:
        deployed.attach_all()
        deployed.sync()
        deployed.listen_everywhere(("tcp", 22), ("tcp", 8050), ("tcp", 8200), ("tcp", 9000), ("udp", 53))
        flows = [
            (n["web1"], n["db1"], "tcp", 22),  # TOP drop beats BOTTOM default allow
            (n["web1"], n["db1"], "tcp", 8050),  # range to a subnet
            (n["web1"], n["db1"], "tcp", 8200),  # outside the range: BOTTOM default allows
            (n["web1"], n["far1"], "udp", 53),  # zone drop
            (n["db1"], n["far1"], "udp", 53),  # zone drop, any location
            (n["web1"], n["far1"], "tcp", 9000),  # macro drop
            (n["web1"], n["far1"], "tcp", 22),  # another subnet: relative rule does not apply
            (n["web1"], n["web2"], "tcp", 22),  # same subnet: relative drop
            (n["web1"], n["db1"], "icmp", 0),  # BOTTOM drop
        ]
        results = deployed.check(flows)
        assert {e for e, _ in results.values()} == {True, False}, results  # both verdicts occur
    finally:
        deployed.close()


@pytest.mark.slow
@pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")
def test_non_ip_follows_default_allow_non_ip_and_arp_still_resolves(lab: Lab) -> None:
    """Raw frames of an experimental ether type, across hosts and on one bridge, against the
    oracle: denied by defaultAllowNonIP=false (while IP and ARP resolution keep working), allowed
    when both sides allow it, and a non-IP DROP entry beats the default."""
    world = World()
    a = world.endpoint(world.web_net, "10.1.1.10", "h1")
    b = world.endpoint(world.web_net, "10.1.1.20", "h2")
    c = world.endpoint(world.web_net, "10.1.1.30", "h1")
    ingress, egress = world.policy("ingress", allow_ip=True), world.policy("egress", allow_ip=True)
    deployed = Site(lab, world)
    try:
        deployed.attach_all()
        deployed.sync()
        macs = {i["VPortID"]: i["MAC"] for i in world.state.objects["containerinterface"].values()}
        views = compile_hosts(world.state)

        def frames(expected_by_oracle: bool, ether_type: int) -> None:
            for src, dst in ((a, b), (b, a), (a, c)):
                packet = Packet(deployed.ips[src], deployed.ips[dst], ether_type=ether_type)
                assert verdict(views, packet).allowed == expected_by_oracle, (src, dst, hex(ether_type))
                observed = lab.frame_passes(deployed.containers[src], deployed.containers[dst], macs[dst],
                                            ether_type)  # fmt: skip
                assert observed == expected_by_oracle, (src, dst, hex(ether_type))

        frames(False, 0x88B5)
        for netns in deployed.containers.values():
            sh("ip", "-n", netns, "neigh", "flush", "all")
        assert lab.pings(deployed.containers[a], deployed.ips[b])  # ARP answered by the bridge
        assert lab.pings(deployed.containers[a], deployed.ips[c])
        assert lab.pings(deployed.containers[a], "10.1.1.1")  # the gateway
        for kind, policy in (("ingressacltemplate", ingress), ("egressacltemplate", egress)):
            world.state.objects[kind][policy]["defaultAllowNonIP"] = True
        deployed.sync()
        views = compile_hosts(world.state)
        frames(True, 0x88B5)
        world.entry(egress, "egress", 5, action="DROP", etherType="0x88B5")
        deployed.sync()
        views = compile_hosts(world.state)
        frames(False, 0x88B5)
        frames(True, 0x88B6)
    finally:
        deployed.close()
