"""The Linux dataplane with real namespaces and real packets, judged against the oracle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from overcast.agent.state import Change
from overcast.dataplane.base import Attachment
from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.policy.compiler import Key, compile_domains, compile_hosts, hosts_of
from overcast.policy.oracle import Packet, verdict
from overcast.protocol.codec import encode_entry
from overcast.testing.netns import Lab, can_run, sh

from ..unit.test_policy import World

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables"),
]


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()


class Site:
    """A World (directory state) deployed on a lab: one LinuxDataplane per host."""

    def __init__(self, lab: Lab, world: World) -> None:
        self.lab, self.world = lab, world
        self.dataplanes: dict[str, LinuxDataplane] = {}
        self.containers: dict[str, str] = {}  # IP -> container netns
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
            ip = interface["IPAddress"]
            if ip not in self.containers:
                self.containers[ip] = self.lab.container(ip.replace(".", "-"))
            self.dataplanes[host].attach(
                Attachment(interface["VPortID"], interface["MAC"], self.containers[ip])
            )

    def sync(self) -> None:
        """Give every host a snapshot of what a fresh compile says it needs."""
        per_host: dict[str, dict[Key, Any]] = {}
        for entries in compile_domains(self.world.state).values():
            for host in hosts_of(entries):
                per_host.setdefault(host, {}).update(entries)
        for host, dataplane in self.dataplanes.items():
            upserts = {k: encode_entry(k, v) for k, v in per_host.get(host, {}).items()}
            dataplane.apply(Change(snapshot=True, upserts=upserts))

    def expected(self, src: str, dst: str, proto: str, port: int) -> bool:
        protocol = {"tcp": 6, "udp": 17, "icmp": 1}[proto]
        packet = Packet(src, dst, protocol=protocol, dport=port, icmp_type=8 if proto == "icmp" else None)
        return verdict(compile_hosts(self.world.state), packet).allowed

    def observed(self, src: str, dst: str, proto: str, port: int) -> bool:
        if proto == "icmp":
            return self.lab.pings(self.containers[src], dst)
        return self.lab.connects(self.containers[src], proto, dst, port)

    def close(self) -> None:
        for dataplane in self.dataplanes.values():
            dataplane.close()


def test_three_hosts_policy_matrix_matches_the_oracle(lab: Lab) -> None:
    world = World()
    web, db = world.group(), world.group()
    world.endpoint(world.web_net, "10.1.1.10", "h1", web)
    world.endpoint(world.web_net, "10.1.1.20", "h2", web)
    world.endpoint(world.db_net, "10.1.2.10", "h3", db)
    world.endpoint(world.db_net, "10.1.2.20", "h1", db)
    ingress, egress = world.policy("ingress"), world.policy("egress")
    for proto, port in (("6", "3306"), ("1", None)):
        match: dict[str, Any] = {"protocol": proto}
        if port:
            match["destinationPort"] = port
        world.entry(ingress, "ingress", 10, locationType="POLICYGROUP", locationID=web,
                    networkType="POLICYGROUP", networkID=db, **match)  # fmt: skip
        world.entry(egress, "egress", 10, locationType="POLICYGROUP", locationID=db,
                    networkType="POLICYGROUP", networkID=web, **match)  # fmt: skip
    site = Site(lab, world)
    try:
        site.attach_all()
        site.sync()
        for netns in site.containers.values():
            for proto, port in (("tcp", 3306), ("tcp", 22), ("udp", 53)):
                lab.listen(netns, proto, port)
        flows = [
            ("10.1.1.10", "10.1.2.10", "tcp", 3306),  # routed across hosts, allowed
            ("10.1.1.10", "10.1.2.20", "tcp", 3306),  # routed on one host, allowed
            ("10.1.1.20", "10.1.2.10", "icmp", 0),  # allowed ping
            ("10.1.1.10", "10.1.2.10", "tcp", 22),  # wrong port
            ("10.1.2.10", "10.1.1.10", "tcp", 3306),  # wrong direction
            ("10.1.1.10", "10.1.1.20", "tcp", 3306),  # same subnet across hosts, no rule
            ("10.1.1.10", "10.1.2.10", "udp", 53),  # wrong protocol
        ]
        results = {flow: (site.expected(*flow), site.observed(*flow)) for flow in flows}
        assert all(expected == observed for expected, observed in results.values()), results
        assert results[flows[0]] == (True, True) and results[flows[3]] == (False, False)

        # Nothing floods: the VXLAN ports have learning and every flood off, ARP suppressed.
        domain_ns = site.dataplanes[f"{lab.tag}h1"].netns_name(world.domain)
        detail = sh("bridge", "-n", domain_ns, "-d", "link", "show").stdout
        assert "neigh_suppress on" in detail and "bcast_flood off" in detail
    finally:
        site.close()
