"""The compliance language and its evaluation over the compiled reachability: sentences by
example, errors that name the line, and — on random small topologies — classes and port atoms
giving exactly what judging every endpoint pair on every port gives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overcast.compliance.evaluate import Violation, build_world, evaluate, unresolved
from overcast.compliance.language import SentenceError, parse_policy

from ..support.world import World


def named(world: World, kind: str, object_id: str, name: str) -> None:
    world.state.objects[kind][object_id]["name"] = name


def shop() -> tuple[World, dict[str, str]]:
    """web (two endpoints) → db on tcp/3306 by one egress entry at db; ingress allows all."""
    world = World()
    world.add("enterprise", name="acme")
    world.state.objects["domain"][world.domain]["parentID"] = next(iter(world.state.objects["enterprise"]))
    web, db = world.group(), world.group()
    named(world, "policygroup", web, "web")
    named(world, "policygroup", db, "db")
    named(world, "subnet", world.web_net, "web-net")
    n = {
        "web1": world.endpoint(world.web_net, "10.1.1.10", "h1", web),
        "web2": world.endpoint(world.web_net, "10.1.1.11", "h2", web),
        "db1": world.endpoint(world.db_net, "10.1.2.10", "h3", db),
        "entry": "",
    }
    world.allow_all_ingress()
    egress = world.policy("egress")
    n["entry"] = world.entry(
        egress,
        "egress",
        10,
        locationType="POLICYGROUP",
        locationID=db,
        networkType="POLICYGROUP",
        networkID=web,
        protocol="6",
        destinationPort="3306",
    )
    return world, n


def check(world: World, text: str) -> list[Violation]:
    return evaluate(build_world(world.state), parse_policy(text))


def test_sentences_by_example() -> None:
    world, n = shop()
    (violation,) = check(world, "no flow from pg:web to pg:db on tcp/3306")
    assert violation.reason == "allowed" and violation.protocol == "tcp/3306" and violation.pairs == 2
    assert violation.egress is not None and violation.egress.decided_by == n["entry"]
    assert set(violation.source_members) == {n["web1"], n["web2"]}
    assert check(world, "no flow from pg:web to pg:db on tcp/22") == []
    assert check(world, "pg:web must reach pg:db on tcp/3306") == []
    (missing,) = check(world, "pg:web must reach pg:db on tcp/5432")
    assert (
        missing.reason == "not allowed"
        and missing.egress is not None
        and missing.egress.decided_by == "default"
    )
    # The guards: db accepts only web (on 3306); nothing else reaches it.
    assert check(world, "nothing outside pg:db may reach pg:db except pg:web on tcp/3306") == []
    assert len(check(world, "nothing outside pg:db may reach pg:db except pg:web on tcp/80")) == 1
    assert check(world, "only pg:web may reach pg:db") == []
    assert check(world, "pg:db may reach nothing outside pg:db") == []  # nothing is allowed into web
    assert {v.reason for v in check(world, "pg:db is isolated")} == {"allowed"}
    # Selectors: subnets, negation, addresses; the outside cannot reach anything (no floating IP).
    assert len(check(world, "no flow from subnet:web-net and not 10.1.1.11 to any on tcp/3306")) == 1
    assert check(world, "no flow from 0.0.0.0/0 to pg:db") != []  # overlay addresses are addresses too
    assert check(world, "no path from pg:db to pg:web within 3 hops") == []
    (path,) = check(world, "no path from pg:web to pg:db within 1 hop")
    assert path.reason.startswith("path ")


def test_names_that_name_nothing_are_warnings() -> None:
    world, _ = shop()
    sentences = parse_policy("no flow from pg:nobody to pg:db on service:nothing\n")
    assert unresolved(build_world(world.state), sentences) == [
        "line 1: pg:nobody names nothing",
        "line 1: service:nothing names no service",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no flow from pg:a", "line 1, column 18: expected 'to', found the end of the line"),
        ("\n\nno flow to pg:b", "line 3, column 9: expected 'from', found 'to'"),
        ("pg:a must reach pg:b", "line 1, column 21: expected 'on', found the end of the line"),
        ("no flow from pg:a to pg:b on tcp/70000", "'70000' is not a port"),
        ("no flow from pg:a to pg:b on gre", "expected a service such as tcp/443"),
        ("nothing outside pg:a may reach pg:b", "must be the same"),
        ("no path from pg:a to pg:b within 99 hops", "1-16"),
        ("# only a comment\n", "at least one sentence"),
    ],
)
def test_errors_name_the_line_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(SentenceError) as info:
        parse_policy(text)
    assert message in str(info.value), str(info.value)


# --- classes equal brute force ------------------------------------------------------------------

PORTS = range(0, 26)  # every entry and sentence port lies in 1..20: 21..25 stand for the rest


def expand(violations: list[Violation]) -> set[tuple[Any, ...]]:
    """Each violation as the endpoint pairs and single ports it stands for."""
    out = set()
    for v in violations:
        protocol, _, ports = v.protocol.partition("/")
        low, _, high = ports.partition("-")
        numbers = [p for p in PORTS if low and int(low) <= p <= int(high or low)] or [None]
        for src in v.source_members or (v.source,):
            for dst in v.destination_members or (v.destination,):
                if src != dst:
                    out |= {(v.line, src, dst, protocol, port, v.reason) for port in numbers}
    return out


SENTENCES = [
    "no flow from pg:g0 to pg:g1",
    "no flow from any to pg:g2 on tcp/3-9",
    "nothing outside pg:g1 may reach pg:g1 except pg:g0 on tcp/5",
    "pg:g2 may reach nothing outside pg:g2 except subnet:s0 on udp/1-12",
    "only pg:g0 may reach subnet:s1 on tcp/7, udp/7",
    "pg:g0 must reach pg:g1 on tcp/4-6",
    "subnet:s0 is isolated",
    "no flow from macro:m0 to any on tcp/2-15",
    "no flow from pg:g1 or pg:g2 to not pg:g0 on icmp",
]

port_range = st.tuples(st.integers(1, 20), st.integers(0, 6)).map(lambda t: f"{t[0]}-{min(20, t[0] + t[1])}")
location = st.sampled_from(["ANY", "POLICYGROUP:0", "POLICYGROUP:1", "POLICYGROUP:2", "SUBNET:0", "SUBNET:1"])
network = st.sampled_from(
    ["ANY", "POLICYGROUP:0", "POLICYGROUP:1", "SUBNET:1", "ENTERPRISE_NETWORK:0", "ENDPOINT_SUBNET"]
)
entry = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(["ingress", "egress"]),
        "action": st.sampled_from(["FORWARD", "DROP"]),
        "location": location,
        "network": network,
        "protocol": st.sampled_from(["6", "17", "ANY", "1"]),
        "ports": port_range,
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    memberships=st.lists(
        st.tuples(st.integers(0, 1), st.sets(st.integers(0, 2), max_size=2)), min_size=2, max_size=6
    ),
    entries=st.lists(entry, max_size=7),
    defaults=st.tuples(st.booleans(), st.booleans()),
    fip=st.booleans(),
)
def test_classes_equal_every_pair_on_every_port(
    memberships: list[tuple[int, set[int]]],
    entries: list[dict[str, Any]],
    defaults: tuple[bool, bool],
    fip: bool,
) -> None:
    world = World()
    subnets = [world.web_net, world.db_net]
    for index, subnet in enumerate(subnets):
        named(world, "subnet", subnet, f"s{index}")
    groups = [world.group() for _ in range(3)]
    for index, group in enumerate(groups):
        named(world, "policygroup", group, f"g{index}")
    macro = world.add("enterprisenetwork", name="m0", address="198.51.100.0", netmask="255.255.255.0")
    vports = []
    for index, (subnet, member_of) in enumerate(memberships):
        prefix = "10.1.1" if subnet == 0 else "10.1.2"
        vports.append(
            world.endpoint(subnets[subnet], f"{prefix}.{10 + index}", "h1", *(groups[g] for g in member_of))
        )
    if fip:
        world.floating_ip(vports[0], "203.0.113.10")
    policies = {
        "ingress": world.policy("ingress", allow_ip=defaults[0]),
        "egress": world.policy("egress", allow_ip=defaults[1]),
    }
    targets = {"POLICYGROUP": groups, "SUBNET": subnets, "ENTERPRISE_NETWORK": [macro]}
    for priority, e in enumerate(entries, start=1):
        match: dict[str, Any] = {"protocol": e["protocol"]}
        for side, value in (("location", e["location"]), ("network", e["network"])):
            kind, _, index = value.partition(":")
            match[f"{side}Type"] = kind
            if index:
                match[f"{side}ID"] = targets[kind][int(index)]
        if e["protocol"] in ("6", "17"):
            match["destinationPort"] = e["ports"]
        world.entry(policies[e["direction"]], e["direction"], priority, action=e["action"], **match)
    judged = build_world(world.state)
    sentences = parse_policy("\n".join(SENTENCES))
    by_classes = expand(evaluate(judged, sentences))
    brute = expand(evaluate(judged, sentences, classes=False, ports=PORTS))
    assert by_classes == brute
