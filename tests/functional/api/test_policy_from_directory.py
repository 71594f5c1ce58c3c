"""The compiler reads what the directory really stores: policy built with vspk, judged by the oracle."""

from __future__ import annotations

from overcast.controller.feed import load_policy_input
from overcast.directory.controller_interface import (
    EndpointClaim,
    claim_endpoints,
    claim_endpoints_of_hosts,
    register_host,
)
from overcast.directory.service import SYSTEM
from overcast.policy.compiler import compile_hosts
from overcast.policy.oracle import Packet, verdict
from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import Shop


def test_three_tier_policy_built_with_vspk(sqlite_server: ServedDirectory) -> None:
    shop = Shop(sqlite_server)
    directory = sqlite_server.directory
    placement = {"web1": "h1", "web2": "h2", "db1": "h3"}
    for host, address in (("h1", "192.0.2.1"), ("h2", "192.0.2.2"), ("h3", "192.0.2.3")):
        register_host(directory, host, address, now_ms=1)
    for name, host in placement.items():
        claim = EndpointClaim(shop.vports[name].id, shop.macs[name], up=True)
        [result] = claim_endpoints(directory, host, [claim], now_ms=2, principal=SYSTEM)
        assert result.ok, result.error

    views = compile_hosts(load_policy_input(directory))
    domain_id, addresses = shop.domain.id, shop.ips
    assert {h: [d.id for d in v.domains] for h, v in views.items()} == {
        h: [domain_id] for h in ("h1", "h2", "h3")
    }
    h3 = views["h3"].domains[0]
    assert h3.set(f"pg:{shop.web.id}") == {f"{addresses['web1']}/32", f"{addresses['web2']}/32"}
    assert sorted(e.vtep for e in h3.remote) == ["192.0.2.1", "192.0.2.2"]
    allowed = verdict(views, Packet(src=addresses["web2"], dst=addresses["db1"], dport=3306))
    assert allowed.allowed and allowed.ingress.decided_by != "default"
    assert not verdict(views, Packet(src=addresses["web2"], dst=addresses["db1"], dport=22)).allowed
    assert not verdict(views, Packet(src=addresses["db1"], dst=addresses["web1"], dport=3306)).allowed


def test_claims_of_several_hosts_in_one_transaction(sqlite_server: ServedDirectory) -> None:
    shop = Shop(sqlite_server)
    directory = sqlite_server.directory
    for host, address in (("h1", "192.0.2.1"), ("h2", "192.0.2.2")):
        register_host(directory, host, address, now_ms=1)
    web1 = EndpointClaim(shop.vports["web1"].id, shop.macs["web1"], up=True)
    web2 = EndpointClaim(shop.vports["web2"].id, shop.macs["web2"], up=True)
    unknown = EndpointClaim("no-such-vport", "02:00:00:00:00:99", up=True)
    results = claim_endpoints_of_hosts(
        directory,
        {"h1": [web1, unknown], "h2": [web2, web1], "h9": [web2]},
        now_ms=2,
        principals=dict.fromkeys(("h1", "h2", "h9"), SYSTEM),
    )
    assert [r.ok for r in results["h1"]] == [True, False]
    # h2 takes web2; web1 is already running on h1 (bound earlier in the same transaction).
    assert [r.ok for r in results["h2"]] == [True, False] and "runs on host h1" in results["h2"][1].error
    assert not results["h9"][0].ok and "not registered" in results["h9"][0].error
    hosts = {
        e.vport_id: e.host_id
        for e in compile_hosts(load_policy_input(directory))["h1"].domains[0].local
    }
    assert hosts == {shop.vports["web1"].id: "h1"}
