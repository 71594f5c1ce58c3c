"""The behaviour suite on the memory dataplane: packets walked through what the Linux driver
would program (its plan and its nftables scripts, interpreted) agree with the oracle — and a
bug planted in the ruleset generator makes them disagree."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from overcast.dataplane.change import Change
from overcast.dataplane.linux import nftables
from overcast.dataplane.memory import MemoryDataplane, Trace, trace_between, trace_from_outside
from overcast.dataplane.model.nftables import NftError, Ruleset
from overcast.policy.compiler import compile_host_entries, compile_hosts
from overcast.policy.oracle import Packet
from overcast.protocol.codec import encode_entry
from overcast.testing import paths

from ..support.behaviour import SCENARIOS, Flow, Scenario
from ..support.north_south import FIP, two_tenants
from ..support.world import World


def deploy(scenario: Scenario) -> dict[str, MemoryDataplane]:
    return paths.deploy(compile_host_entries(scenario.world.state))


def trace(scenario: Scenario, dataplanes: dict[str, MemoryDataplane], flow: Flow) -> Trace:
    return trace_between(
        dataplanes, scenario.host(flow.src), scenario.packet(flow), scenario.domain(flow.src)
    )


def disagreements(scenario: Scenario) -> list[tuple[Flow, str]]:
    """Flows whose trace does not deliver (or refuse) as the oracle says, or names another
    deciding entry."""
    dataplanes = deploy(scenario)
    views = compile_hosts(scenario.world.state)
    wrong = []
    for flow in scenario.flows:
        same = scenario.domain(flow.src) == scenario.domain(flow.dst)
        _, _, differs = paths.judge(dataplanes, views, scenario.host(flow.src), scenario.packet(flow),
                                    scenario.domain(flow.src), flow.dst, same)  # fmt: skip
        if differs:
            wrong.append((flow, differs))
    return wrong


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_agrees_with_the_oracle(name: str) -> None:
    scenario = SCENARIOS[name]()
    assert not disagreements(scenario)
    if not name.startswith("non-ip"):  # those judge the non-IP defaults, IP allowed throughout
        assert {scenario.expected(flow) for flow in scenario.flows} == {True, False}


def test_a_trace_crosses_hosts_by_vxlan_and_names_what_decided() -> None:
    scenario = SCENARIOS["three-tier"]()
    n = scenario.names
    dataplanes = deploy(scenario)
    h1, h3 = "h1", "h3"
    first = dataplanes[h1].send(scenario.packet(Flow(n["web1"], n["db1"], "tcp", 3306)))
    assert first.tunnel is not None and first.tunnel.vtep == "192.0.2.3"
    whole = trace(scenario, dataplanes, Flow(n["web1"], n["db1"], "tcp", 3306))
    assert whole.delivered and whole.vport_id == n["db1"]
    assert [(h.host_id, h.direction) for h in whole.hops] == [(h1, "ingress"), (h3, "egress")]
    denied = trace(scenario, dataplanes, Flow(n["web1"], n["db1"], "tcp", 22))
    assert denied.reason == "dropped by default" and [h.host_id for h in denied.hops] == [h1]
    unknown = dataplanes[h1].send(Packet("10.1.1.10", "10.1.1.99"))
    assert unknown.reason == "no-endpoint"


MUTATIONS: dict[str, Callable[[str], str]] = {
    # the source and destination port matches swapped
    "swapped port match": lambda rule: (
        rule.replace("th sport", "th @").replace("th dport", "th sport").replace("th @", "th dport")
    ),
    # the remote side of a rule matched on the local side's address
    "remote matched as local": lambda rule: rule.replace("ip daddr @pg", "ip saddr @pg"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_a_bug_in_the_ruleset_generator_fails_the_suite(
    mutation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = nftables._match

    def mutated(*args, **kwargs):  # type: ignore[no-untyped-def]
        return [MUTATIONS[mutation](rule) for rule in original(*args, **kwargs)]

    monkeypatch.setattr(nftables, "_match", mutated)
    caught = {name: disagreements(SCENARIOS[name]()) for name in SCENARIOS}
    assert any(caught.values()), f"the suite did not notice: {mutation}"


def test_set_element_updates_leave_what_a_fresh_load_leaves() -> None:
    """The memory dataplane programs as the driver does: a membership change is an element
    update of the loaded table, a new rule a reload; the result equals loading it afresh."""
    scenario = SCENARIOS["three-tier"]()
    world, n = scenario.world, scenario.names
    dataplanes = deploy(scenario)
    held = compile_host_entries(world.state)

    def step() -> None:
        nonlocal held
        now = compile_host_entries(world.state)
        for host, dataplane in dataplanes.items():
            before, after = held.get(host, {}), now.get(host, {})
            upserts = {k: encode_entry(k, v) for k, v in after.items() if before.get(k) != v}
            removals = set(before) - set(after)
            if upserts or removals:
                dataplane.apply(Change(snapshot=False, upserts=upserts, removals=removals))
            dataplane.namespaces()  # program now: every step, one at a time
        held = now

    for dataplane in dataplanes.values():
        dataplane.namespaces()
    web3 = world.endpoint(world.web_net, "10.1.1.30", "h3", n["web"])
    step()
    world.state.members[n["web"]] -= {n["web2"]}
    step()
    world.entry(n["ingress"], "ingress", 30, locationType="POLICYGROUP", locationID=n["web"],
                networkType="POLICYGROUP", networkID=n["db"], protocol="17",
                destinationPort="53")  # fmt: skip
    step()
    world.state.members[n["db"]] -= {n["db2"]}
    step()

    def loaded(dataplanes: dict[str, MemoryDataplane]) -> dict[str, object]:
        """Every set's elements in every table of every namespace."""
        return {
            (host, domain, table.family, table.name, name): nft_set.elements
            for host, dataplane in dataplanes.items()
            for domain, namespace in dataplane.namespaces().items()
            for table in namespace.nft.tables.values()
            for name, nft_set in table.sets.items()
        }

    fresh = deploy(scenario)
    assert loaded(dataplanes) == loaded(fresh)
    flows = [Flow(web3, n["db1"], "tcp", 3306), Flow(n["web2"], n["db1"], "tcp", 3306)]
    assert [trace(scenario, dataplanes, f).delivered for f in flows] == [True, False]


def test_the_translation_agrees_with_the_oracle_at_size() -> None:
    """Four hundred endpoints on twenty hosts, eight groups, random allow and drop entries:
    a thousand random flows traced agree with the oracle."""
    rng = random.Random(7)
    world = World()
    world.hosts.update(
        {f"h{i}": world.add("vrs", name=f"h{i}", address=f"192.0.2.{i}") for i in range(4, 21)}
    )
    subnets = [world.web_net, world.db_net] + [world.subnet(f"10.1.{i}.0") for i in range(3, 9)]
    groups = [world.group() for _ in range(8)]
    vports = [
        world.endpoint(subnets[i % len(subnets)], f"10.1.{1 + i % 8}.{10 + i // 8}",
                       f"h{1 + i % 20}", *rng.sample(groups, 2))
        for i in range(400)
    ]  # fmt: skip
    ingress, egress = world.policy("ingress"), world.policy("egress", allow_ip=True)
    for priority in range(40):
        world.entry(ingress, "ingress", priority, action=rng.choice(["FORWARD", "DROP"]),
                    locationType="POLICYGROUP", locationID=rng.choice(groups),
                    networkType="POLICYGROUP", networkID=rng.choice(groups),
                    protocol="6", destinationPort=str(rng.choice([22, 80, 443, 3306])))  # fmt: skip
    world.entry(egress, "egress", 1, action="DROP", locationType="POLICYGROUP", locationID=groups[0],
                networkType="ANY", protocol="6", destinationPort="443")  # fmt: skip
    flows = [Flow(*rng.sample(vports, 2), "tcp", rng.choice([22, 80, 443, 3306])) for _ in range(1000)]
    scenario = Scenario("at-size", world, flows)
    assert not disagreements(scenario)
    views = compile_hosts(world.state)
    assert {scenario.expected(f, views) for f in flows} == {True, False}


# --- the nftables model refuses what the kernel refuses --------------------------------------------


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ("delete table inet t", "no such table"),
        ("table inet t { set s { type ipv4_addr; elements = { 10.0.0.0/24 } } }", "flags interval"),
        (
            "table inet t { set s { type ipv4_addr; flags interval; elements = { 10.0.0.0/24, 10.0.0.0/25 } } }",  # noqa: E501
            "conflicting intervals",
        ),
        (
            "table inet t { set s { type ipv4_addr; } }\ndelete element inet t s { 10.0.0.1 }",
            "no such element",
        ),
        ("table inet t { chain c { ip saddr 10.0.0.1 reject } }", "unknown expression"),
        ("table ip t { chain c { ip saddr 10.0.0.1 masquerade } }", "outside a nat chain"),
        (
            "table ip t { chain c { type nat hook prerouting priority dstnat; dnat to ip daddr map @m } }",
            "no map",
        ),
        ("table inet t { chain c { jump nowhere } }", "unknown chain"),
        ("table inet t { chain c { th dport 70000 accept } }", "not a port"),
    ],
)
def test_the_model_refuses_what_nft_refuses(script: str, error: str) -> None:
    ruleset = Ruleset()
    ruleset.run("table inet keep {}")
    with pytest.raises(NftError, match=error):
        ruleset.run(script)
    assert list(ruleset.tables) == [("inet", "keep")]  # a failed script changes nothing


def test_north_south_through_the_memory_dataplane() -> None:
    """The north-south system test's world, traced: the driver's NAT script and uplink plan
    interpreted give what real packets gave (tests/system/dataplane/test_north_south.py)."""
    world, other, n = two_tenants()
    dataplanes = paths.deploy(compile_host_entries(world.state))
    client = "198.51.100.10"

    def out(vport: str, domain: str) -> Trace:
        interface = next(
            i for i in world.state.objects["containerinterface"].values() if i["VPortID"] == vport
        )
        host = world.state.objects["vrs"][world.state.objects["container"][interface["parentID"]]["VRSID"]]
        return trace_between(
            dataplanes, host["name"], Packet(interface["IPAddress"], client, dport=8080), domain
        )

    arrived = trace_from_outside(dataplanes, Packet(client, FIP, dport=80))
    assert arrived.delivered and arrived.vport_id == n["web1"]
    refused = trace_from_outside(dataplanes, Packet(client, FIP, dport=22))
    assert not refused.delivered and refused.reason == "dropped by default"
    assert out(n["web1"], world.domain).leaves_as == FIP
    assert out(n["db1"], world.domain).leaves_as == "192.0.2.2"  # PAT: as its host
    assert out(n["x-db1"], other.domain).leaves_as == "192.0.2.2"  # the other tenant, same address
    kept_in = out(n["web2"], world.domain)
    assert not kept_in.delivered and kept_in.reason.startswith("dropped by inet overcast forward")
    del world.state.objects["vport"][n["web1"]]["associatedFloatingIPID"]
    dataplanes = paths.deploy(compile_host_entries(world.state))
    assert trace_from_outside(dataplanes, Packet(client, FIP, dport=80)).reason == "no route from outside"
    assert not out(n["web1"], world.domain).delivered
