"""The compiler reads what the directory really stores: policy built with vspk, judged by the oracle."""

from __future__ import annotations

from overcast.controller.feed import load_policy_input
from overcast.controller.records import EndpointClaim, claim_endpoints, register_host
from overcast.policy.compiler import compile_hosts
from overcast.policy.oracle import Packet, verdict
from overcast.testing.directory import ServedDirectory
from overcast.testing.vspk_topology import Shop


def test_three_tier_policy_built_with_vspk(sqlite_server: ServedDirectory) -> None:
    shop = Shop(sqlite_server)
    directory = sqlite_server.directory
    placement = {"web1": "h1", "web2": "h2", "db1": "h3"}
    for host, address in (("h1", "192.0.2.1"), ("h2", "192.0.2.2"), ("h3", "192.0.2.3")):
        register_host(directory, host, address, now_ms=1)
    for name, host in placement.items():
        claim = EndpointClaim(shop.vports[name].id, shop.macs[name], up=True)
        [result] = claim_endpoints(directory, host, [claim], now_ms=2)
        assert result.ok, result.error

    views = compile_hosts(load_policy_input(directory.store))
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
