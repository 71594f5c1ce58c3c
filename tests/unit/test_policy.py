"""The policy compiler and the reachability oracle: one test per semantic rule."""

from __future__ import annotations

import pytest

from overcast.policy.compiler import compile_hosts

from ..support.world import World


@pytest.fixture
def world() -> World:
    return World()


def test_hosts_receive_only_domains_with_a_local_endpoint(world: World) -> None:
    world.endpoint(world.web_net, "10.1.1.10", "h1")
    world.endpoint(world.db_net, "10.1.2.10", "h2")
    views = compile_hosts(world.state)
    assert [d.id for d in views["h1"].domains] == [world.domain]
    assert views["h3"].domains == ()
    h1 = views["h1"].domains[0]
    assert [e.ip for e in h1.local] == ["10.1.1.10"]
    assert [(e.ip, e.vtep) for e in h1.remote] == [("10.1.2.10", "192.0.2.2")]
    assert {s.prefix for s in h1.subnets} == {"10.1.1.0/24", "10.1.2.0/24"}


def test_policy_groups_compile_to_sets_not_pairs(world: World) -> None:
    web, db = world.group(), world.group()
    ingress = world.policy("ingress")
    world.entry(
        ingress,
        "ingress",
        1,
        locationType="POLICYGROUP",
        locationID=web,
        networkType="POLICYGROUP",
        networkID=db,
        protocol="6",
        destinationPort="3306",
    )
    for i in range(5):
        world.endpoint(world.web_net, f"10.1.1.{10 + i}", "h1", web)
    world.endpoint(world.db_net, "10.1.2.10", "h2", db)
    before = compile_hosts(world.state)["h1"].domains[0]
    world.endpoint(world.web_net, "10.1.1.50", "h1", web)
    after = compile_hosts(world.state)["h1"].domains[0]
    assert after.ingress == before.ingress and len(after.ingress) == 1
    assert after.set(f"pg:{web}") == before.set(f"pg:{web}") | {"10.1.1.50/32"}
    assert after.set(f"pg:{db}") == {"10.1.2.10/32"}


def test_ingress_at_source_and_egress_at_destination_both_decide(world: World) -> None:
    web, db = world.group(), world.group()
    world.endpoint(world.web_net, "10.1.1.10", "h1", web)
    world.endpoint(world.db_net, "10.1.2.10", "h2", db)
    ingress, egress = world.policy("ingress"), world.policy("egress")
    allow_out = world.entry(
        ingress,
        "ingress",
        1,
        locationType="POLICYGROUP",
        locationID=web,
        networkType="POLICYGROUP",
        networkID=db,
        protocol="6",
        destinationPort="3306",
    )
    assert world.check("10.1.1.10", "10.1.2.10", dport=3306) == (False, allow_out, "default")
    allow_in = world.entry(
        egress,
        "egress",
        1,
        locationType="POLICYGROUP",
        locationID=db,
        networkType="POLICYGROUP",
        networkID=web,
        protocol="6",
        destinationPort="3306",
    )
    assert world.check("10.1.1.10", "10.1.2.10", dport=3306) == (True, allow_out, allow_in)
    assert world.check("10.1.1.10", "10.1.2.10", dport=3307)[0] is False
    assert world.check("10.1.2.10", "10.1.1.10", dport=3306)[0] is False  # the other way round


def test_brackets_then_priorities_and_first_match(world: World) -> None:
    world.endpoint(world.web_net, "10.1.1.10", "h1")
    world.endpoint(world.db_net, "10.1.2.10", "h2")
    world.allow_all_egress()
    normal = world.policy("ingress", priority=1)
    bottom = world.policy("ingress", priority=0, bracket="BOTTOM")
    top = world.policy("ingress", priority=500, bracket="TOP")
    world.entry(bottom, "ingress", 1, action="FORWARD")
    drop = world.entry(normal, "ingress", 5, action="DROP", protocol="6")
    allow_web = world.entry(normal, "ingress", 2, protocol="6", destinationPort="80")
    top_entry = world.entry(top, "ingress", 9, protocol="6", destinationPort="22")
    assert world.check("10.1.1.10", "10.1.2.10", dport=80)[:2] == (True, allow_web)
    assert world.check("10.1.1.10", "10.1.2.10", dport=443)[:2] == (False, drop)
    assert world.check("10.1.1.10", "10.1.2.10", dport=22)[:2] == (True, top_entry)
    assert world.check("10.1.1.10", "10.1.2.10", protocol=17, dport=53)[0] is True  # reaches BOTTOM


def test_defaults_and_inactive_policies(world: World) -> None:
    world.endpoint(world.web_net, "10.1.1.10", "h1")
    world.endpoint(world.db_net, "10.1.2.10", "h2")
    assert world.check("10.1.1.10", "10.1.2.10") == (False, "default", "default")  # no policy: closed
    world.allow_all_egress()
    inactive = world.policy("ingress", active=False, allow_ip=True)
    world.entry(inactive, "ingress", 1)
    assert world.check("10.1.1.10", "10.1.2.10") == (False, "default", "default")
    world.policy("ingress", allow_ip=True)
    assert world.check("10.1.1.10", "10.1.2.10") == (True, "default", "default")


def test_ports_ranges_protocols_and_icmp(world: World) -> None:
    world.endpoint(world.web_net, "10.1.1.10", "h1")
    world.endpoint(world.db_net, "10.1.2.10", "h2")
    world.allow_all_egress()
    ingress = world.policy("ingress")
    world.entry(ingress, "ingress", 1, protocol="6", destinationPort="1000-2000", sourcePort="*")
    world.entry(ingress, "ingress", 2, protocol="17", destinationPort="53")
    world.entry(ingress, "ingress", 3, protocol="1", ICMPType="8", ICMPCode="0")
    cases = [
        (dict(protocol=6, dport=1000), True),
        (dict(protocol=6, dport=2000), True),
        (dict(protocol=6, dport=999), False),
        (dict(protocol=6, dport=2001), False),
        (dict(protocol=17, dport=53), True),
        (dict(protocol=17, dport=54), False),
        (dict(protocol=1, icmp_type=8, icmp_code=0), True),
        (dict(protocol=1, icmp_type=0, icmp_code=0), False),
    ]
    for packet, expected in cases:
        assert world.check("10.1.1.10", "10.1.2.10", **packet)[0] is expected, packet


def test_zones_subnets_macros_and_relative_networks(world: World) -> None:
    other_zone = world.add("zone", parentID=world.domain, parentType="domain")
    far_net = world.subnet("10.2.0.0", other_zone)
    world.endpoint(world.web_net, "10.1.1.10", "h1")
    world.endpoint(world.db_net, "10.1.2.10", "h2")
    world.endpoint(far_net, "10.2.0.10", "h3")
    world.endpoint(world.web_net, "10.1.1.11", "h2")
    world.allow_all_egress()
    ingress = world.policy("ingress")
    world.entry(ingress, "ingress", 1, networkType="ENDPOINT_SUBNET")
    world.entry(
        ingress, "ingress", 2, networkType="ZONE", networkID=other_zone, protocol="6", destinationPort="80"
    )
    assert world.check("10.1.1.10", "10.1.1.11")[0] is True  # same subnet
    assert world.check("10.1.1.10", "10.1.2.10")[0] is False  # same zone, other subnet
    assert world.check("10.1.1.10", "10.2.0.10", dport=80)[0] is True  # the other zone, port 80
    assert world.check("10.1.1.10", "10.2.0.10", dport=81)[0] is False
    macro = world.add("enterprisenetwork", parentID="ent-1", address="10.2.0.0", netmask="255.255.0.0")
    group = world.add("networkmacrogroup", parentID="ent-1")
    world.state.members[group] = frozenset({macro})
    world.entry(ingress, "ingress", 3, networkType="NETWORK_MACRO_GROUP", networkID=group, protocol="17")
    assert world.check("10.1.1.10", "10.2.0.10", protocol=17, dport=5000)[0] is True
    views = compile_hosts(world.state)
    assert views["h1"].domains[0].set(f"macrogroup:{group}") == {"10.2.0.0/16"}


def test_unknown_endpoints_and_other_domains_fail_closed(world: World) -> None:
    world.endpoint(world.web_net, "10.1.1.10", "h1")
    world.allow_all_egress()
    world.allow_all_ingress()
    assert world.check("10.1.1.10", "10.9.9.9") == (False, "default", "no-endpoint")
    other = World()
    other.state, other.hosts = world.state, world.hosts  # a second domain, reusing the addresses
    other.domain = other.add("domain", parentID="ent-2", name="d2")
    other.zone = other.add("zone", parentID=other.domain, parentType="domain")
    net = other.subnet("10.1.1.0")
    other.endpoint(net, "10.1.1.99", "h1")
    other.allow_all_egress()
    other.allow_all_ingress()
    result = world.check("10.1.1.10", "10.1.1.99")
    assert result[0] is False  # no reachability across domains, even with allow-all policies
    views = compile_hosts(world.state)
    assert sorted(d.id for d in views["h1"].domains) == sorted([world.domain, other.domain])


def test_explain_a_flow_with_the_outside() -> None:
    """North-south in the oracle: the endpoint's side decides once the flow can cross at all;
    the memory dataplane's traces of the same flows agree (tests/unit/test_memory_dataplane)."""
    from overcast.policy.compiler import compile_domains
    from overcast.policy.oracle import Packet, explain_outside

    from ..support.north_south import two_tenants

    world, _, n = two_tenants()
    entries = compile_domains(world.state)[world.domain]
    endpoints = {k[2]: v for k, v in entries.items() if k[0] == "endpoint"}

    def judge(vport: str, port: int, *, inbound: bool) -> tuple[bool, str]:
        packet = Packet("", "", dport=port)
        verdict = explain_outside((world.domain, endpoints[vport]), entries.items(), packet,
                                  outside="198.51.100.10", inbound=inbound)  # fmt: skip
        side = verdict.egress if inbound else verdict.ingress
        return verdict.allowed, side.decided_by

    assert judge(n["web1"], 80, inbound=True)[0]  # floating IP, web accepts tcp/80 from anywhere
    assert judge(n["web1"], 22, inbound=True) == (False, "default")
    assert judge(n["db1"], 80, inbound=True)[1].startswith("no way in")  # PAT: out only
    assert judge(n["db1"], 8080, inbound=False)[0]
    allowed, why = judge(n["web2"], 8080, inbound=False)
    assert not allowed and why.startswith("no way out")
