"""The directory's side of north-south, driven by vspk: floating-IP pools restricted to
enterprises, floating IPs in and out of a pool, advertised subnets that may not overlap across
tenants, PAT's choices — each refusal a VSD error that changes nothing."""

from __future__ import annotations

from functools import partial

from vspk import v6 as vsdk

from overcast.directory.service import SYSTEM
from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import build_domain, refused, session_for


def test_pools_floating_ips_and_advertised_subnets(directory_server: ServedDirectory) -> None:
    operator = session_for(directory_server)
    me = operator.user
    acme, globex = build_domain(me, "acme"), build_domain(me, "globex")
    pool = vsdk.NUSharedNetworkResource(
        name="public",
        type="FLOATING",
        address="203.0.113.0",
        netmask="255.255.255.248",
        gateway="203.0.113.1",
    )
    me.create_child(pool)
    # Restricted to acme: globex may not allocate from it, acme may.
    permission = vsdk.NUEnterprisePermission(permitted_entity_id=acme["ent"].id)
    pool.create_child(permission)
    assert permission.permitted_entity_name == "acme" and permission.permitted_action == "USE"
    status, text = refused(lambda: globex["domain"].create_child(vsdk.NUFloatingIp(
        associated_shared_network_resource_id=pool.id)))  # fmt: skip
    assert status == 409 and "not available to this enterprise" in text
    assert globex["domain"].floating_ips.get() == []
    fip = vsdk.NUFloatingIp(associated_shared_network_resource_id=pool.id)
    acme["domain"].create_child(fip)
    assert fip.address == "203.0.113.2"
    # A requested address outside the pool, or taken.
    for address in ("198.51.100.7", "203.0.113.2"):
        status, _ = refused(lambda a=address: acme["domain"].create_child(vsdk.NUFloatingIp(
            associated_shared_network_resource_id=pool.id, address=a)))  # fmt: skip
        assert status == 409, address
    # Exhausted: .3-.6 are left (.0 network, .1 gateway, .7 broadcast).
    for _ in range(4):
        acme["domain"].create_child(vsdk.NUFloatingIp(associated_shared_network_resource_id=pool.id))
    status, _ = refused(lambda: acme["domain"].create_child(vsdk.NUFloatingIp(
        associated_shared_network_resource_id=pool.id)))  # fmt: skip
    assert status == 409
    assert len(acme["domain"].floating_ips.get()) == 5
    # Associating a floating IP of another domain with a vport.
    globex_vport = vsdk.NUVPort(name="vp", type="CONTAINER")
    globex["sub_a"].create_child(globex_vport)
    globex_vport.associated_floating_ip_id = fip.id
    status, _ = refused(globex_vport.save)
    assert status in (404, 409)  # another tenant's floating IP does not exist for globex

    # A tenant sees the pool (global) but not which enterprises may use it.
    tenant = vsdk.NUUser(
        user_name="ops", password="Secret-123456", first_name="o", last_name="p", email="o@p.q"
    )
    acme["ent"].create_child(tenant)
    acme_me = session_for(directory_server, "ops", "Secret-123456", "acme").user
    seen = acme_me.shared_network_resources.get()
    assert [p.id for p in seen] == [pool.id]
    assert seen[0].enterprise_permissions.get() == []
    operator.start()  # vspk acts through the session started last

    # Advertised subnets: public ranges announced as is may not overlap across tenants.
    public_a = vsdk.NUSubnet(name="pub", address="198.51.100.0", netmask="255.255.255.0", advertise=True)
    acme["zone"].create_child(public_a)
    overlapping = vsdk.NUSubnet(
        name="pub", address="198.51.100.128", netmask="255.255.255.128", advertise=True
    )
    status, text = refused(lambda: globex["zone"].create_child(overlapping))
    assert status == 409 and "already advertises" in text
    assert public_a.id not in text and "acme" not in text  # nothing of the other tenant
    assert [s.name for s in globex["zone"].subnets.get()] == ["sub-a", "sub-b"]
    unadvertised = vsdk.NUSubnet(name="pub", address="198.51.100.128", netmask="255.255.255.128")
    globex["zone"].create_child(unadvertised)  # the same range, kept private: fine
    unadvertised.advertise = True
    status, _ = refused(unadvertised.save)
    assert status == 409

    # PAT's choices are VSD's.
    acme["domain"].pat_enabled = "SOMETIMES"
    status, _ = refused(acme["domain"].save)
    assert status == 409
    acme["domain"].pat_enabled = "ENABLED"
    acme["domain"].save()
    acme["domain"].fetch()
    assert acme["domain"].pat_enabled == "ENABLED"

    acme["ent"].delete()  # its permission goes with it (else the pool were kept for nobody)
    assert pool.enterprise_permissions.get() == []


def test_topology_shows_floating_ips_and_gateways(directory_server: ServedDirectory) -> None:
    from overcast.cli.client import describe_gateway, gateways_of, topology_tree
    from overcast.client.vsd import VsdClient
    from overcast.directory.controller_interface import record_gateway
    from overcast.gateway.heartbeat import STALE_AFTER_MS

    me = session_for(directory_server).user
    acme = build_domain(me, "acme")
    pool = vsdk.NUSharedNetworkResource(name="public", type="FLOATING", address="203.0.113.0",
                                        netmask="255.255.255.0", gateway="203.0.113.1")  # fmt: skip
    me.create_child(pool)
    fip = vsdk.NUFloatingIp(associated_shared_network_resource_id=pool.id)
    acme["domain"].create_child(fip)
    vport = vsdk.NUVPort(name="web1", type="CONTAINER", associated_floating_ip_id=fip.id)
    acme["sub_a"].create_child(vport)
    record = partial(record_gateway, directory_server.directory, refresh_after_ms=60_000)
    record("gw1", "10.99.0.253", {"10.99.0.254": "established"})
    gw2 = record("gw2", "10.99.0.252", {"10.99.0.254": "established", "10.99.0.250": "active"})
    written = directory_server.directory.get(SYSTEM, "gateways", gw2)["lastUpdatedDate"]
    record("gw2", "10.99.0.252", {"10.99.0.254": "established", "10.99.0.250": "active"})
    assert directory_server.directory.get(SYSTEM, "gateways", gw2)["lastUpdatedDate"] == written  # no change
    client = VsdClient(directory_server.url, "csproot", "csproot", "csp")
    client.login()
    _, data = topology_tree(client, "acme")
    (subnet,) = [
        s for s in data["enterprises"][0]["domains"][0]["zones"][0]["subnets"] if s["name"] == "sub-a"
    ]
    assert [(v["name"], v["floatingIP"]) for v in subnet["vports"]] == [("web1", fip.address)]
    gw1 = {"name": "gw1", "routerID": "10.99.0.253", "connected": True, "reporting": True,
           "silent_seconds": None, "sessions": "10.99.0.254 established", "down": []}  # fmt: skip
    assert data["gateways"][0] == gw1
    assert data["gateways"][1]["down"] == ["10.99.0.250"]  # which session is down
    assert "down: 10.99.0.250" in describe_gateway(data["gateways"][1])
    # A gateway that stops refreshing its record (killed with -9) is shown as silent.
    later = written + STALE_AFTER_MS + 5_000
    silent = {g["name"]: g for g in gateways_of(client, now_ms=later)}
    assert not silent["gw2"]["reporting"] and not silent["gw2"]["connected"]
    assert silent["gw2"]["silent_seconds"] >= STALE_AFTER_MS // 1000
    assert "not reporting for" in describe_gateway(silent["gw2"])
