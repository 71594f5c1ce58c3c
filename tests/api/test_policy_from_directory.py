"""The compiler reads what the directory really stores: policy built with vspk, judged by the oracle."""

from __future__ import annotations

import uuid

from vspk import v6 as vsdk

from overcast.controller.feed import load_policy_input
from overcast.controller.records import EndpointClaim, claim_endpoints, register_host
from overcast.policy.compiler import compile_hosts
from overcast.policy.oracle import Packet, verdict
from overcast.testing.directory import ServedDirectory
from overcast.testing.vspk_topology import build_domain, session_for


def test_three_tier_policy_built_with_vspk(sqlite_server: ServedDirectory) -> None:
    me = session_for(sqlite_server).user
    objs = build_domain(me, "shop")
    domain, web_net, db_net = objs["domain"], objs["sub_a"], objs["sub_b"]
    web, db = vsdk.NUPolicyGroup(name="web"), vsdk.NUPolicyGroup(name="db")
    domain.create_child(web)
    domain.create_child(db)
    directory = sqlite_server.directory
    for host, address in (("h1", "192.0.2.1"), ("h2", "192.0.2.2"), ("h3", "192.0.2.3")):
        register_host(directory, host, address, now_ms=1)
    macs, addresses = {}, {}
    for name, subnet, group, host in (
        ("web1", web_net, web, "h1"),
        ("web2", web_net, web, "h2"),
        ("db1", db_net, db, "h3"),
    ):
        vport = vsdk.NUVPort(name=name, type="CONTAINER")
        subnet.create_child(vport)
        vport.assign([group], vsdk.NUPolicyGroup)
        container = vsdk.NUContainer(
            name=name,
            uuid=str(uuid.uuid4()),
            interfaces=[{"MAC": f"02:00:00:00:00:0{len(macs) + 1}", "VPortID": vport.id}],
        )
        me.create_child(container)
        macs[vport.id] = container.interfaces[0]["MAC"]
        [result] = claim_endpoints(
            directory, host, [EndpointClaim(vport.id, macs[vport.id], up=True)], now_ms=2
        )
        assert result.ok, result.error
        addresses[name] = container.interfaces[0]["IPAddress"]
    ingress = vsdk.NUIngressACLTemplate(name="out", active=True, priority=1, priority_type="NONE")
    egress = vsdk.NUEgressACLTemplate(name="in", active=True, priority=1, priority_type="NONE")
    domain.create_child(ingress)
    domain.create_child(egress)
    for acl, entry_cls, location, network in (
        (ingress, vsdk.NUIngressACLEntryTemplate, web, db),
        (egress, vsdk.NUEgressACLEntryTemplate, db, web),
    ):
        acl.create_child(
            entry_cls(
                action="FORWARD",
                location_type="POLICYGROUP",
                location_id=location.id,
                network_type="POLICYGROUP",
                network_id=network.id,
                protocol="6",
                destination_port="3306",
                source_port="*",
                priority=10,
                stateful=True,
                ether_type="0x0800",
            )
        )

    state = load_policy_input(directory.store)
    views = compile_hosts(state)
    assert {h: [d.id for d in v.domains] for h, v in views.items()} == {
        "h1": [domain.id],
        "h2": [domain.id],
        "h3": [domain.id],
    }
    h3 = views["h3"].domains[0]
    assert h3.set(f"pg:{web.id}") == {f"{addresses['web1']}/32", f"{addresses['web2']}/32"}
    assert sorted(e.vtep for e in h3.remote) == ["192.0.2.1", "192.0.2.2"]
    allowed = verdict(views, Packet(src=addresses["web2"], dst=addresses["db1"], dport=3306))
    assert allowed.allowed and allowed.ingress.decided_by != "default"
    assert not verdict(views, Packet(src=addresses["web2"], dst=addresses["db1"], dport=22)).allowed
    assert not verdict(views, Packet(src=addresses["db1"], dst=addresses["web1"], dport=3306)).allowed
