"""Incremental compilation equals a full recompute: random state sequences applied as deltas,
in order, reversed, split into one change per batch and squashed into one batch."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from overcast.policy.compiler import (
    Key,
    PolicyInput,
    compile_domains,
    compile_host_entries,
    set_bucket,
)
from overcast.policy.engine import PolicyEngine, changes_between
from overcast.protocol.codec import decode_entry, digest_of, encode_entry, wire_entry

from ..support.world import World

HOSTS = {"vrs-1": ("h1", "192.0.2.1"), "vrs-2": ("h2", "192.0.2.2"), "vrs-3": ("h3", "192.0.2.3")}
# (subnet ID, zone ID, domain ID, address); "l2-1" is an L2 domain: its own single segment
SEGMENTS = [
    ("sub-1", "zone-1", "dom-1", "10.0.1.0"),
    ("sub-2", "zone-1", "dom-1", "10.0.2.0"),
    ("sub-3", "zone-2", "dom-1", "10.0.3.0"),
    ("sub-4", "zone-3", "dom-2", "10.0.1.0"),  # overlapping addresses in another domain
    ("l2-1", None, "l2-1", "10.9.0.0"),
]
GROUPS = {"pg-1": "dom-1", "pg-2": "dom-1", "pg-3": "dom-2", "pg-4": "l2-1"}
NETWORK_TYPES = [
    "ANY",
    "POLICYGROUP",
    "ZONE",
    "SUBNET",
    "ENTERPRISE_NETWORK",
    "NETWORK_MACRO_GROUP",
    "ENDPOINT_DOMAIN",
    "ENDPOINT_ZONE",
    "ENDPOINT_SUBNET",
]

endpoint_spec = st.tuples(
    st.sampled_from(range(len(SEGMENTS))),  # segment
    st.integers(2, 6),  # host octet
    st.sampled_from([None, *HOSTS]),  # where it runs (None: not running)
    st.frozensets(st.sampled_from(sorted(GROUPS)), max_size=2),
    st.booleans(),  # a VM instead of a container
)
entry_spec = st.tuples(
    st.sampled_from(["ingress", "egress"]),
    st.sampled_from(["dom-1", "dom-2", "l2-1"]),
    st.integers(0, 3),  # priority
    st.sampled_from(["ANY", "POLICYGROUP", "ZONE", "SUBNET"]),  # location type
    st.sampled_from(NETWORK_TYPES),
    st.sampled_from(["6", "17", "ANY"]),
)
world_spec = st.fixed_dictionaries(
    {
        "domains": st.frozensets(st.sampled_from(["dom-1", "dom-2", "l2-1"])),
        "hosts": st.frozensets(st.sampled_from(sorted(HOSTS))),
        "endpoints": st.dictionaries(
            st.sampled_from([f"vp-{i}" for i in range(8)]), endpoint_spec, max_size=8
        ),
        "groups": st.frozensets(st.sampled_from(sorted(GROUPS))),
        "entries": st.dictionaries(st.sampled_from([f"e-{i}" for i in range(6)]), entry_spec, max_size=6),
        "templates_active": st.booleans(),
        "allow_ip": st.booleans(),
        "macros": st.frozensets(st.sampled_from(["10.8.0.0", "10.7.0.0"])),
        "macro_group": st.frozensets(st.sampled_from(["10.8.0.0", "10.7.0.0"])),
        "subnet_vni": st.integers(1, 3),
        "domain_pat": st.sampled_from([None, "ENABLED", "DISABLED"]),
        "subnet_pat": st.sampled_from([None, "INHERITED", "ENABLED", "DISABLED"]),  # sub-2's
        "advertise": st.booleans(),  # sub-3's
        "fips": st.dictionaries(
            st.sampled_from([f"vp-{i}" for i in range(8)]), st.sampled_from(["fip-1", "fip-2"]), max_size=2
        ),
        "fip_octet": st.integers(10, 11),
    }
)


#: A spec's north-south part when a test has nothing to say about it.
NO_NORTH_SOUTH = {"domain_pat": None, "subnet_pat": None, "advertise": False, "fips": {}, "fip_octet": 10}


def build(spec: dict[str, Any]) -> PolicyInput:
    """A directory-consistent state: children only under existing parents, memberships only
    between existing objects (the directory deletes them together)."""
    state = PolicyInput()
    for vrs_id in spec["hosts"]:
        name, address = HOSTS[vrs_id]
        state.add("vrs", {"ID": vrs_id, "name": name, "address": address})
    for subnet_id, zone_id, domain_id, address in SEGMENTS:
        if domain_id not in spec["domains"]:
            continue
        segment = {
            "ID": subnet_id,
            "address": address,
            "netmask": "255.255.255.0",
            "vnId": spec["subnet_vni"],
        }
        if zone_id is None:
            state.add("l2domain", {**segment, "parentID": "ent-1"})
            continue
        state.add("domain", {"ID": domain_id, "parentID": "ent-1", "PATEnabled": spec["domain_pat"]})
        state.add("zone", {"ID": zone_id, "parentID": domain_id, "parentType": "domain"})
        if subnet_id == "sub-2":
            segment["PATEnabled"] = spec["subnet_pat"]
        if subnet_id == "sub-3":
            segment["advertise"] = spec["advertise"]
        state.add(
            "subnet", {**segment, "parentID": zone_id, "parentType": "zone", "gateway": address[:-1] + "1"}
        )
    for group_id in spec["groups"]:
        if GROUPS[group_id] in spec["domains"]:
            state.add("policygroup", {"ID": group_id, "parentID": GROUPS[group_id]})
    for vport_id, (segment, octet, vrs_id, groups, is_vm) in spec["endpoints"].items():
        subnet_id, zone_id, domain_id, address = SEGMENTS[segment]
        if domain_id not in spec["domains"]:
            continue
        vport = {"ID": vport_id, "parentID": subnet_id}
        fip = spec["fips"].get(vport_id)
        if (
            fip is not None
            and domain_id != "l2-1"
            and min(v for v, f in spec["fips"].items() if f == fip) == vport_id
        ):
            vport["associatedFloatingIPID"] = f"{fip}-{domain_id}"  # one vport per floating IP
        state.add("vport", vport)
        owner_kind = "vm" if is_vm else "container"
        owner = {"ID": f"{owner_kind}-{vport_id}", "VRSID": vrs_id if vrs_id in spec["hosts"] else vrs_id}
        state.add(owner_kind, owner)
        state.add(
            f"{owner_kind}interface",
            {
                "ID": f"if-{vport_id}",
                "parentID": owner["ID"],
                "VPortID": vport_id,
                "MAC": f"02:00:00:00:00:{int(vport_id[3:]):02x}",
                "IPAddress": address[:-1] + str(octet),
                "attachedNetworkID": subnet_id,
                "domainID": domain_id,
                "zoneID": zone_id,
            },
        )
        for group_id in groups:
            if state.get("policygroup", group_id) is not None:
                state.members[group_id] = state.members.get(group_id, frozenset()) | {vport_id}
    for domain_id in spec["domains"] - {"l2-1"}:  # floating IPs allocated in each domain
        for n, fip in enumerate(("fip-1", "fip-2")):
            address = f"203.0.113.{spec['fip_octet'] + 10 * n}"
            state.add("floatingip", {"ID": f"{fip}-{domain_id}", "parentID": domain_id, "address": address})
    for address in spec["macros"]:
        state.add("enterprisenetwork", {"ID": f"net-{address}", "address": address, "netmask": "255.255.0.0"})
    state.add("networkmacrogroup", {"ID": "mg-1", "parentID": "ent-1"})
    members = frozenset(f"net-{a}" for a in spec["macro_group"] if a in spec["macros"])
    if members:
        state.members["mg-1"] = members
    for domain_id in spec["domains"]:
        for direction in ("ingress", "egress"):
            state.add(
                f"{direction}acltemplate",
                {
                    "ID": f"{direction}-{domain_id}",
                    "parentID": domain_id,
                    "active": spec["templates_active"],
                    "defaultAllowIP": spec["allow_ip"],
                    "priority": 1,
                },
            )
    for entry_id, (direction, domain_id, priority, location, network, protocol) in spec["entries"].items():
        if domain_id not in spec["domains"]:
            continue
        network_id = {
            "POLICYGROUP": "pg-1" if domain_id == "dom-1" else "pg-3",
            "ZONE": "zone-1",
            "SUBNET": "sub-2",
            "ENTERPRISE_NETWORK": "net-10.8.0.0",
            "NETWORK_MACRO_GROUP": "mg-1",
        }.get(network)
        location_id = {"POLICYGROUP": "pg-2", "ZONE": "zone-2", "SUBNET": "sub-1"}.get(location)
        state.add(
            f"{direction}aclentrytemplate",
            {
                "ID": f"{entry_id}-{direction}",  # IDs are unique across kinds, as in the directory
                "parentID": f"{direction}-{domain_id}",
                "priority": priority,
                "locationType": location,
                "locationID": location_id,
                "networkType": network,
                "networkID": network_id,
                "protocol": protocol,
                "destinationPort": "80" if protocol == "6" else "*",
                "etherType": "0x0800",
            },
        )
    for objs in state.objects.values():  # what the compiler must ignore (the engine drops it)
        for obj in objs.values():
            obj.update(description="noise", lastUpdatedDate=len(spec["endpoints"]), status="RUNNING")
    return state


class Agents:
    """What each host holds after applying the deltas it was sent."""

    def __init__(self) -> None:
        self.held: dict[str, dict[Key, Any]] = {}

    def apply(self, deltas: dict[str, Any]) -> None:
        for host_id, delta in deltas.items():
            held = self.held.setdefault(host_id, {})
            for key in delta.removals:
                assert key in held, f"{host_id} told to remove {key} it never held"
                del held[key]
            held.update(delta.upserts)
            if not held:
                del self.held[host_id]


def check(engine: PolicyEngine, agents: Agents, state: PolicyInput) -> None:
    reference = compile_domains(state)
    assert engine.domains == reference
    assert agents.held == compile_host_entries(state)
    for host_id, held in agents.held.items():
        assert engine.host_digest(host_id) == digest_of(held.items())
        assert engine.host_entries(host_id) == held
        for key, value in held.items():  # the wire encoding carries every entry exactly
            assert decode_entry(encode_entry(key, value)) == (key, value)


def run(states: list[PolicyInput], *, split: bool) -> None:
    engine, agents, previous = PolicyEngine(wire_entry), Agents(), PolicyInput()
    for state in states:
        changes = changes_between(previous, state)
        if split:
            for change in changes:
                agents.apply(engine.apply([change]))
        else:
            agents.apply(engine.apply(changes))
        check(engine, agents, state)
        previous = state


@settings(max_examples=200, deadline=None)
@given(st.lists(world_spec, min_size=1, max_size=5))
def test_incremental_equals_recompute(specs: list[dict[str, Any]]) -> None:
    states = [build(spec) for spec in specs]
    run(states, split=False)
    run(states[::-1], split=False)
    run(states, split=True)
    run([states[-1]], split=False)  # squashed: only the final state, one batch


@settings(max_examples=80, deadline=None)
@given(st.lists(world_spec, min_size=2, max_size=4), st.randoms(use_true_random=False))
def test_order_inside_a_batch_does_not_matter(specs: list[dict[str, Any]], rng: Any) -> None:
    engine, agents, previous = PolicyEngine(wire_entry), Agents(), PolicyInput()
    for state in map(build, specs):
        changes = changes_between(previous, state)
        rng.shuffle(changes)
        agents.apply(engine.apply(changes))
        check(engine, agents, state)
        previous = state


def test_an_endpoint_add_touches_only_its_sets_and_hosts() -> None:
    spec = {
        "domains": frozenset({"dom-1", "dom-2"}),
        "hosts": frozenset(HOSTS),
        "endpoints": {
            "vp-1": (0, 2, "vrs-1", frozenset({"pg-1"}), False),
            "vp-2": (1, 3, "vrs-2", frozenset({"pg-2"}), False),
            "vp-3": (3, 4, "vrs-3", frozenset({"pg-3"}), False),
        },
        "groups": frozenset(GROUPS),
        "entries": {"e-1": ("ingress", "dom-1", 1, "POLICYGROUP", "POLICYGROUP", "6")},
        "templates_active": True,
        "allow_ip": False,
        "macros": frozenset(),
        "macro_group": frozenset(),
        "subnet_vni": 1,
        **NO_NORTH_SOUTH,
    }
    engine = PolicyEngine(wire_entry)
    engine.apply(changes_between(PolicyInput(), before := build(spec)))
    spec["endpoints"] = {**spec["endpoints"], "vp-4": (0, 5, "vrs-2", frozenset({"pg-1"}), False)}
    deltas = engine.apply(changes_between(before, build(spec)))
    # h3 runs only dom-2: it hears nothing; h1 and h2 get the endpoint and one set bucket.
    assert sorted(deltas) == ["h1", "h2"]
    bucket = ("member", "dom-1", "pg:pg-1", set_bucket("10.0.1.5/32"))
    for delta in deltas.values():
        assert not delta.removals
        assert sorted(k[0] for k in delta.upserts) == ["endpoint", "member"]
        assert "10.0.1.5/32" in delta.upserts[bucket]


def test_the_engine_recomputes_only_what_a_change_touches() -> None:
    """30 domains on 40 hosts (4 each): one endpoint added to a domain costs that endpoint, one
    set and its domain's hosts; one ACL entry, that domain and its hosts — never the world."""
    import copy

    world = World()
    world.hosts = {f"h{i}": world.add("vrs", name=f"h{i}", address=f"192.0.2.{i}") for i in range(1, 41)}
    domains: dict[str, dict[str, str]] = {}
    for d in range(30):
        world.domain = world.add("domain", parentID="ent-1", name=f"d{d}")
        world.zone = world.add("zone", parentID=world.domain, parentType="domain")
        subnet, group = world.subnet("10.1.1.0"), world.group()
        policy = world.policy("ingress")
        world.entry(
            policy,
            "ingress",
            1,
            locationType="POLICYGROUP",
            locationID=group,
            networkType="POLICYGROUP",
            networkID=group,
        )
        for e in range(5):
            world.endpoint(subnet, f"10.1.1.{10 + e}", f"h{1 + (d * 4 + e % 4) % 40}", group)
        domains[world.domain] = {"subnet": subnet, "group": group, "zone": world.zone, "policy": policy}
    engine = PolicyEngine(wire_entry)
    engine.apply(changes_between(PolicyInput(), world.state))
    assert len(engine.work.domains) == 31 and len(engine.work.hosts) == 40  # (World brings one more)

    target = sorted(domains)[7]
    hosts_of_target = {h for h, ds in engine.domains_of_host.items() if target in ds}
    assert len(hosts_of_target) == 4
    before = copy.deepcopy(world.state)
    world.domain, world.zone = target, domains[target]["zone"]
    made = domains[target]
    world.endpoint(made["subnet"], "10.1.1.99", sorted(hosts_of_target)[0], made["group"])
    deltas = engine.apply(changes_between(before, world.state))
    work = engine.work
    assert work.domains == set() and work.endpoints == 1 and work.sets == 1
    assert work.encoded == 2, work  # the endpoint and the one set bucket it lands in
    assert work.hosts == hosts_of_target and set(deltas) == hosts_of_target

    before = copy.deepcopy(world.state)
    world.entry(domains[target]["policy"], "ingress", 2, protocol="6", destinationPort="22")
    deltas = engine.apply(changes_between(before, world.state))
    assert engine.work.domains == {target} and engine.work.endpoints == 0
    assert engine.work.hosts == hosts_of_target and set(deltas) == hosts_of_target


def test_north_south_changes_reach_endpoints_and_subnets() -> None:
    """One north-south attribute at a time (independent random states rarely keep everything
    else equal): a floating IP assigned, its address changed, PAT on the domain, overridden by
    a subnet, a subnet advertised, the floating IP unassigned — each step equal to a recompute."""
    base = {
        "domains": frozenset({"dom-1"}),
        "hosts": frozenset(HOSTS),
        "endpoints": {
            "vp-1": (0, 2, "vrs-1", frozenset(), False),
            "vp-2": (1, 3, "vrs-2", frozenset(), False),
        },
        "groups": frozenset(),
        "entries": {},
        "templates_active": True,
        "allow_ip": True,
        "macros": frozenset(),
        "macro_group": frozenset(),
        "subnet_vni": 1,
        **NO_NORTH_SOUTH,
    }
    steps = [
        {"fips": {"vp-1": "fip-1"}},
        {"fips": {"vp-1": "fip-1"}, "fip_octet": 11},
        {"fips": {"vp-1": "fip-1"}, "fip_octet": 11, "domain_pat": "ENABLED"},
        {"fips": {"vp-1": "fip-1"}, "fip_octet": 11, "domain_pat": "ENABLED", "subnet_pat": "DISABLED"},
        {"fips": {"vp-1": "fip-1"}, "fip_octet": 11, "domain_pat": "DISABLED", "subnet_pat": "INHERITED"},
        {"fips": {"vp-1": "fip-1"}, "fip_octet": 11, "advertise": True},
        {"fips": {}, "advertise": True},
    ]
    states = [build(base)] + [build({**base, **step}) for step in steps]
    run(states, split=True)
    run(states, split=False)
    endpoint = compile_domains(states[2])["dom-1"][("endpoint", "dom-1", "vp-1")]
    assert endpoint.floating_ip == "203.0.113.11"
    subnets = {k[2]: v for k, v in compile_domains(states[4])["dom-1"].items() if k[0] == "subnet"}
    assert subnets["sub-1"].pat and not subnets["sub-2"].pat


def test_a_group_referenced_late_holds_its_members() -> None:
    """Endpoints join a policy group first; a rule naming the group comes later: the set the
    rule uses holds them at once (it came out empty until the group's membership changed
    again, so the rule matched nobody — found by a system test adding its entry last)."""
    world = World()
    web, db = world.group(), world.group()
    world.endpoint(world.web_net, "10.1.1.10", "h1", web)
    world.endpoint(world.db_net, "10.1.2.10", "h2", db)
    egress = world.policy("egress")
    engine = PolicyEngine(wire_entry)
    before = PolicyInput(
        objects={k: dict(v) for k, v in world.state.objects.items()}, members=dict(world.state.members)
    )
    engine.apply(changes_between(PolicyInput(), before))
    world.entry(
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
    engine.apply(changes_between(before, world.state))
    assert engine.domains == compile_domains(world.state)
