"""The dataplane behaviour suite, as data: topologies, policies and the flows to judge.

Each scenario is a directory state (a :class:`World`) and flows between its endpoints. The
reachability oracle says what must happen to each flow; the memory dataplane (tests/unit) and
the Linux dataplane with real packets (tests/system/dataplane) must both agree with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overcast.policy.compiler import HostView, compile_hosts
from overcast.policy.oracle import IPV4, Packet, Verdict, verdict
from overcast.testing.paths import in_domain

from .world import World

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}


@dataclass(frozen=True)
class Flow:
    """A new flow from one vport to another: TCP/UDP to a port, a ping, or (``raw``) a frame
    of ``ether_type`` sent to the destination's MAC."""

    src: str
    dst: str
    proto: str = "tcp"  # tcp | udp | icmp | raw
    port: int = 0
    ether_type: int = IPV4


@dataclass
class Scenario:
    name: str
    world: World
    flows: list[Flow]
    names: dict[str, str] = field(default_factory=dict)  # readable name -> object ID

    def interface(self, vport: str) -> dict[str, Any]:
        return next(
            i for i in self.world.state.objects["containerinterface"].values() if i["VPortID"] == vport
        )

    def ip(self, vport: str) -> str:
        return str(self.interface(vport)["IPAddress"])

    def domain(self, vport: str) -> str:
        return str(self.interface(vport)["domainID"])

    def host(self, vport: str) -> str:
        """The host ID (its vrs's name) the vport's endpoint runs on."""
        container = self.world.state.objects["container"][self.interface(vport)["parentID"]]
        return str(self.world.state.objects["vrs"][container["VRSID"]]["name"])

    def packet(self, flow: Flow) -> Packet:
        if flow.proto == "raw":
            return Packet(self.ip(flow.src), self.ip(flow.dst), ether_type=flow.ether_type)
        return Packet(self.ip(flow.src), self.ip(flow.dst), protocol=PROTOCOLS[flow.proto], dport=flow.port,
                      icmp_type=8 if flow.proto == "icmp" else None)  # fmt: skip

    def oracle(self, flow: Flow, views: dict[str, HostView] | None = None) -> Verdict | None:
        """The oracle's verdict, judged in the source's domain (tenants reuse addresses);
        None for endpoints of two domains, which never meet."""
        if self.domain(flow.src) != self.domain(flow.dst):
            return None
        views = compile_hosts(self.world.state) if views is None else views
        return verdict(in_domain(views, self.domain(flow.src)), self.packet(flow))

    def expected(self, flow: Flow, views: dict[str, HostView] | None = None) -> bool:
        judged = self.oracle(flow, views)
        return judged is not None and judged.allowed


def three_tier() -> Scenario:
    """web (h1, h2), db (h3, h1); web -> db tcp/3306 and ping allowed, the rest denied."""
    world = World()
    web, db = world.group(), world.group()
    n = {
        "web1": world.endpoint(world.web_net, "10.1.1.10", "h1", web),
        "web2": world.endpoint(world.web_net, "10.1.1.20", "h2", web),
        "db1": world.endpoint(world.db_net, "10.1.2.10", "h3", db),
        "db2": world.endpoint(world.db_net, "10.1.2.20", "h1", db),
    }
    ingress, egress = world.policy("ingress"), world.policy("egress")
    n.update(web=web, db=db, ingress=ingress, egress=egress)
    for proto, port in (("6", "3306"), ("1", None)):
        match: dict[str, Any] = {"protocol": proto}
        if port:
            match["destinationPort"] = port
        world.entry(ingress, "ingress", 10, locationType="POLICYGROUP", locationID=web,
                    networkType="POLICYGROUP", networkID=db, **match)  # fmt: skip
        world.entry(egress, "egress", 10, locationType="POLICYGROUP", locationID=db,
                    networkType="POLICYGROUP", networkID=web, **match)  # fmt: skip
    flows = [
        Flow(n["web1"], n["db1"], "tcp", 3306),  # routed across hosts, allowed
        Flow(n["web1"], n["db2"], "tcp", 3306),  # routed on one host, allowed
        Flow(n["web2"], n["db1"], "icmp"),  # allowed ping
        Flow(n["web1"], n["db1"], "tcp", 22),  # wrong port
        Flow(n["db1"], n["web1"], "tcp", 3306),  # wrong direction
        Flow(n["web1"], n["web2"], "tcp", 3306),  # same subnet across hosts, no rule
        Flow(n["web1"], n["db1"], "udp", 53),  # wrong protocol
        Flow(n["db2"], n["web1"], "tcp", 3306),  # on one host, wrong direction
    ]
    return Scenario("three-tier", world, flows, n)


def every_match() -> Scenario:
    """Every kind of match the compiler emits: brackets, a port range to a subnet, a zone, an
    enterprise network, a rule relative to the sender's subnet, a bottom-bracket protocol drop."""
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
    world.allow_all_egress()  # judge the ingress translation; egress has three-tier
    top = world.policy("ingress", bracket="TOP", priority=1)
    middle = world.policy("ingress", priority=5)
    bottom = world.policy("ingress", bracket="BOTTOM", priority=1, allow_ip=True)
    # TOP: web may never reach db on 22 (even though BOTTOM's default would allow it)
    world.entry(top, "ingress", 1, action="DROP", locationType="POLICYGROUP", locationID=web,
                networkType="POLICYGROUP", networkID=db, protocol="6", destinationPort="22")  # fmt: skip
    world.entry(middle, "ingress", 1, locationType="POLICYGROUP", locationID=web, networkType="SUBNET",
                networkID=world.db_net, protocol="6", destinationPort="8000-8100")  # fmt: skip
    world.entry(middle, "ingress", 2, action="DROP", locationType="ANY", networkType="ZONE",
                networkID=other_zone, protocol="17")  # fmt: skip
    world.entry(middle, "ingress", 3, action="DROP", locationType="ANY", networkType="ENTERPRISE_NETWORK",
                networkID=macro, protocol="6", destinationPort="9000")  # fmt: skip
    world.entry(middle, "ingress", 4, action="DROP", locationType="ANY", networkType="ENDPOINT_SUBNET",
                protocol="6", destinationPort="22")  # fmt: skip
    world.entry(middle, "ingress", 5, action="DROP", locationType="ANY", networkType="ANY",
                protocol="6", sourcePort="1000-2000")  # fmt: skip
    world.entry(bottom, "ingress", 1, action="DROP", locationType="ANY", networkType="ANY", protocol="1")
    flows = [
        Flow(n["web1"], n["db1"], "tcp", 22),  # TOP drop beats BOTTOM default allow
        Flow(n["web1"], n["db1"], "tcp", 8050),  # range to a subnet
        Flow(n["web1"], n["db1"], "tcp", 8200),  # outside the range: BOTTOM default allows
        Flow(n["web1"], n["far1"], "udp", 53),  # zone drop
        Flow(n["db1"], n["far1"], "udp", 53),  # zone drop, any location
        Flow(n["web1"], n["far1"], "tcp", 9000),  # macro drop
        Flow(n["web1"], n["far1"], "tcp", 22),  # another subnet: relative rule does not apply
        Flow(n["web1"], n["web2"], "tcp", 22),  # same subnet: relative drop
        Flow(n["web1"], n["db1"], "icmp"),  # BOTTOM drop
        Flow(n["far1"], n["web2"], "tcp", 1500),  # a source-port rule that does not match
    ]
    return Scenario("every-match", world, flows, n)


def tenants_overlap() -> Scenario:
    """Two tenants with the same addresses, everything allowed: isolation comes from the
    domains alone."""
    world = World()
    web, db = world.group(), world.group()
    n = {
        "web1": world.endpoint(world.web_net, "10.1.1.10", "h1", web),
        "db1": world.endpoint(world.db_net, "10.1.2.10", "h3", db),
    }
    other = World()
    other.state, other.hosts = world.state, world.hosts
    other.domain = other.add("domain", parentID="ent-2", name="d2")
    other.zone = other.add("zone", parentID=other.domain, parentType="domain")
    other_web, other_db = other.subnet("10.1.1.0"), other.subnet("10.1.2.0")
    n["x1"] = other.endpoint(other_web, "10.1.1.10", "h2")
    n["x2"] = other.endpoint(other_db, "10.1.2.10", "h1")
    for tenant in (world, other):
        tenant.allow_all_ingress()
        tenant.allow_all_egress()
    flows = [
        Flow(n["web1"], n["db1"], "tcp", 3306),  # its own tenant (h1 -> h3)
        Flow(n["x1"], n["x2"], "tcp", 8080),  # tenant 2 (h2 -> h1)
        Flow(n["web1"], n["x2"], "tcp", 8080),  # the other tenant's endpoint, same address
        Flow(n["x1"], n["db1"], "tcp", 3306),
    ]
    return Scenario("tenants-overlap", world, flows, n)


def non_ip(*, allow_non_ip: bool, drop_entry: bool = False) -> Scenario:
    """Raw frames of an experimental ether type on one bridge and across hosts: judged by
    ``defaultAllowNonIP`` and the non-IP entries, IP allowed throughout."""
    world = World()
    n = {
        "a": world.endpoint(world.web_net, "10.1.1.10", "h1"),
        "b": world.endpoint(world.web_net, "10.1.1.20", "h2"),
        "c": world.endpoint(world.web_net, "10.1.1.30", "h1"),
    }
    ingress, egress = world.policy("ingress", allow_ip=True), world.policy("egress", allow_ip=True)
    for kind, policy in (("ingressacltemplate", ingress), ("egressacltemplate", egress)):
        world.state.objects[kind][policy]["defaultAllowNonIP"] = allow_non_ip
    if drop_entry:
        world.entry(egress, "egress", 5, action="DROP", etherType="0x88B5")
    flows = [Flow(s, d, "raw", ether_type=t) for s, d in (("a", "b"), ("b", "a"), ("a", "c"))
             for t in (0x88B5, 0x88B6)]  # fmt: skip
    flows = [Flow(n[f.src], n[f.dst], "raw", ether_type=f.ether_type) for f in flows]
    flows += [Flow(n["a"], n["b"], "icmp"), Flow(n["a"], n["c"], "tcp", 80)]
    name = "non-ip-" + ("allowed" if allow_non_ip else "denied") + ("-drop-entry" if drop_entry else "")
    return Scenario(name, world, flows, n)


#: Every scenario, built fresh by name (scenarios are mutable: tests change their worlds).
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "three-tier": three_tier,
    "every-match": every_match,
    "tenants-overlap": tenants_overlap,
    "non-ip-denied": lambda: non_ip(allow_non_ip=False),
    "non-ip-allowed": lambda: non_ip(allow_non_ip=True),
    "non-ip-drop-entry": lambda: non_ip(allow_non_ip=True, drop_entry=True),
}
