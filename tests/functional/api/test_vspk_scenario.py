"""The scenario of vsd-api.md §9–§10, driven by the real vspk SDK against a served directory,
on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import ipaddress
import time
import uuid

import pytest
from bambou.exceptions import BambouHTTPError
from vspk import v6 as vsdk

from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import build_domain, session_for


def http_error(call) -> BambouHTTPError:  # type: ignore[no-untyped-def]
    with pytest.raises(BambouHTTPError) as info:
        call()
    return info.value


def status_of(error: BambouHTTPError) -> int:
    return error.connection.response.status_code


def test_full_scenario(directory_server: ServedDirectory) -> None:
    session = session_for(directory_server)
    me = session.user
    assert me.api_key and me.role == "CSPROOT" and me.enterprise_name == "CSP"

    pushed: list[dict] = []
    session.push_center.add_delegate(pushed.append)
    session.push_center.start()
    deadline = time.monotonic() + 10
    while not pushed and time.monotonic() < deadline:  # the channel is open once it answered
        time.sleep(0.02)
    try:
        objs = build_domain(me)
        ent, domain, zone, sub_a, sub_b = (objs[k] for k in ("ent", "domain", "zone", "sub_a", "sub_b"))
        # Server-side allocations came back into the client objects.
        assert domain.service_id and domain.back_haul_vnid and domain.route_distinguisher
        assert domain.enterprise_id == ent.id
        assert sub_b.gateway == "10.10.2.1", "gateway defaults to the first host"
        assert sub_a.vn_id and sub_b.vn_id and sub_a.vn_id != sub_b.vn_id
        assert sub_a.gateway_mac_address and sub_a.gateway_mac_address != sub_b.gateway_mac_address
        assert zone.policy_group_id and sub_a.policy_group_id != zone.policy_group_id

        pg_web = vsdk.NUPolicyGroup(name="pg-web")
        pg_db = vsdk.NUPolicyGroup(name="pg-db")
        domain.create_child(pg_web)
        domain.create_child(pg_db)
        assert pg_web.policy_group_id != pg_db.policy_group_id
        vp_vm = vsdk.NUVPort(name="vp-vm1", type="VM")
        vp_ct = vsdk.NUVPort(name="vp-ct1", type="CONTAINER")
        vp_host = vsdk.NUVPort(name="vp-host1", type="HOST", address_spoofing="DISABLED")
        for vp in (vp_vm, vp_ct, vp_host):
            sub_a.create_child(vp)
        assert vp_vm.domain_id == domain.id and vp_vm.zone_id == zone.id
        assert vp_vm.assoc_entity_id == sub_a.id

        # Membership in both directions, read back both ways.
        pg_web.assign([vp_vm, vp_ct], vsdk.NUVPort)
        vp_host.assign([pg_db], vsdk.NUPolicyGroup)
        assert {v.id for v in pg_web.vports.get()} == {vp_vm.id, vp_ct.id}
        assert [p.id for p in vp_host.policy_groups.get()] == [pg_db.id]
        assert [v.id for v in pg_db.vports.get()] == [vp_host.id]
        assert [p.id for p in vp_vm.policy_groups.get()] == [pg_web.id]

        ingress = vsdk.NUIngressACLTemplate(
            name="in-pol",
            active=True,
            default_allow_ip=False,
            default_allow_non_ip=False,
            priority=100,
            priority_type="NONE",
        )
        egress = vsdk.NUEgressACLTemplate(
            name="eg-pol",
            active=True,
            default_allow_ip=False,
            default_allow_non_ip=False,
            priority=100,
            priority_type="NONE",
        )
        domain.create_child(ingress)
        domain.create_child(egress)
        entry = vsdk.NUIngressACLEntryTemplate(
            action="FORWARD",
            description="web->db tcp/5432",
            destination_port="5432",
            network_id=pg_db.id,
            network_type="POLICYGROUP",
            location_id=pg_web.id,
            location_type="POLICYGROUP",
            source_port="*",
            priority=10,
            protocol="6",
            stateful=True,
            ether_type="0x0800",
        )
        ingress.create_child(entry)
        assert entry.location_entity_type == "POLICYGROUP" and entry.acl_template_name == "in-pol"
        icmp = vsdk.NUEgressACLEntryTemplate(
            action="FORWARD",
            description="allow icmp to web",
            network_type="ANY",
            location_id=pg_web.id,
            location_type="POLICYGROUP",
            priority=20,
            protocol="1",
            icmp_type="8",
            icmp_code="0",
            stateful=False,
            ether_type="0x0800",
        )
        drop = vsdk.NUEgressACLEntryTemplate(
            action="DROP",
            description="drop everything else",
            network_type="ANY",
            location_type="ANY",
            priority=1000,
            protocol="ANY",
            ether_type="0x0800",
        )
        egress.create_child(icmp)
        egress.create_child(drop)
        assert [e.priority for e in egress.egress_acl_entry_templates.get()] == [20, 1000]
        assert len(domain.ingress_acl_entry_templates.get()) == 1

        # Split activation: the server allocates (or honours) addresses and fills interfaces.
        container = vsdk.NUContainer(
            name="ctr-1",
            uuid=str(uuid.uuid4()),
            orchestration_id="test",
            interfaces=[{"MAC": "02:00:00:00:00:01", "VPortID": vp_ct.id, "name": "eth0"}],
        )
        me.create_child(container)
        iface = container.interfaces[0]
        assert iface["IPAddress"] == "10.10.1.2" and iface["gateway"] == "10.10.1.1"
        assert iface["netmask"] == "255.255.255.0" and iface["domainID"] == domain.id
        assert container.enterprise_id == ent.id and container.subnet_ids == [sub_a.id]
        vm = vsdk.NUVM(
            name="vm-1",
            uuid=str(uuid.uuid4()),
            interfaces=[
                {"name": "eth0", "MAC": "02:00:00:00:00:02", "VPortID": vp_vm.id, "IPAddress": "10.10.1.50"}
            ],
        )
        me.create_child(vm)
        assert vm.interfaces[0]["IPAddress"] == "10.10.1.50"
        assert [i.ip_address for i in domain.vm_interfaces.get()] == ["10.10.1.50"]
        assert [c.id for c in sub_a.containers.get()] == [container.id]
        assert [c.id for c in ent.containers.get()] == [container.id]
        vp_vm.fetch()
        assert vp_vm.has_attached_interfaces is True

        # An address in use, outside the subnet, or the gateway is refused.
        vp_ct2 = vsdk.NUVPort(name="vp-ct2", type="CONTAINER")
        sub_a.create_child(vp_ct2)
        for bad_ip in ("10.10.1.50", "10.10.9.9", "10.10.1.1"):
            error = http_error(
                lambda ip=bad_ip: me.create_child(
                    vsdk.NUContainer(
                        name="ctr-x",
                        uuid=str(uuid.uuid4()),
                        interfaces=[{"MAC": "02:00:00:00:00:09", "VPortID": vp_ct2.id, "IPAddress": ip}],
                    )
                )
            )
            assert status_of(error) == 409
        # A container interface on a VM vport is refused.
        error = http_error(
            lambda: me.create_child(
                vsdk.NUContainer(
                    name="ctr-y",
                    uuid=str(uuid.uuid4()),
                    interfaces=[{"MAC": "02:00:00:00:00:0a", "VPortID": vp_host.id}],
                )
            )
        )
        assert status_of(error) == 409 and "type" in str(error)

        # Network macros and a macro group used by an ACL entry.
        macro = vsdk.NUEnterpriseNetwork(
            name="internet-dns", address="8.8.8.0", netmask="255.255.255.0", ip_type="IPV4"
        )
        ent.create_child(macro)
        group = vsdk.NUNetworkMacroGroup(name="public-dns")
        ent.create_child(group)
        group.assign([macro], vsdk.NUEnterpriseNetwork)
        assert [m.id for m in group.enterprise_networks.get()] == [macro.id]
        dns = vsdk.NUIngressACLEntryTemplate(
            action="FORWARD",
            destination_port="53",
            network_id=group.id,
            network_type="NETWORK_MACRO_GROUP",
            location_type="ANY",
            source_port="*",
            priority=30,
            protocol="17",
            stateful=True,
            ether_type="0x0800",
        )
        ingress.create_child(dns)
        assert dns.network_entity_type == "NETWORKMACROGROUP"

        # Floating IPs from a shared pool, bound to a vport.
        pool = vsdk.NUSharedNetworkResource(
            name="fip-pool",
            type="FLOATING",
            address="192.0.2.0",
            netmask="255.255.255.0",
            gateway="192.0.2.1",
            dhcp_managed=True,
        )
        me.create_child(pool)
        fip = vsdk.NUFloatingIp(associated_shared_network_resource_id=pool.id)
        domain.create_child(fip)
        assert fip.address == "192.0.2.2" and fip.assigned is False
        vp_vm.associated_floating_ip_id = fip.id
        vp_vm.save()
        fip.fetch()
        assert fip.assigned is True and fip.assigned_to_object_type == "vport"

        # L2 domains: template, instance, vports.
        l2t = vsdk.NUL2DomainTemplate(
            name="l2t", dhcp_managed=True, ip_type="IPV4", address="172.16.0.0", netmask="255.255.0.0"
        )
        ent.create_child(l2t)
        l2 = vsdk.NUL2Domain(name="l2-a")
        ent.instantiate_child(l2, l2t)
        assert l2.vn_id and l2.address == "172.16.0.0" and l2.dhcp_managed is True
        vp_l2 = vsdk.NUVPort(name="vp-l2", type="VM")
        l2.create_child(vp_l2)
        assert [v.id for v in l2.vports.get()] == [vp_l2.id]
        vm_l2 = vsdk.NUVM(
            name="vm-l2",
            uuid=str(uuid.uuid4()),
            interfaces=[{"MAC": "02:00:00:00:00:12", "VPortID": vp_l2.id}],
        )
        me.create_child(vm_l2)
        assert [i.vport_id for i in l2.vm_interfaces.get()] == [vp_l2.id]
        assert [v.id for v in l2.vms.get()] == [vm_l2.id]
        assert [i.vport_id for i in vp_l2.vm_interfaces.get()] == [vp_l2.id]

        # Filters, ordering, paging and count.
        for i in range(5):
            domain.create_child(vsdk.NUZone(name=f"z0{i}"))
        assert me.enterprises.get_first(filter='name == "acme"').id == ent.id
        assert sorted(z.name for z in domain.zones.get(filter="name BEGINSWITH 'z0'")) == [
            f"z0{i}" for i in range(5)
        ]
        page = domain.zones.get(order_by="name DESC", page=1, page_size=2)
        assert [z.name for z in page] == ["z03", "z02"]  # zone-a, z04 | z03, z02 | ...
        assert domain.zones.get_count() == 6
        assert domain.zones.get(filter="name == 'nope'") == []
        assert [s.name for s in domain.subnets.get(order_by="name ASC")] == ["sub-a", "sub-b"]

        # save() and its 409 on a second identical save.
        zone.description = "changed"
        zone.save()
        error = http_error(zone.save)
        assert status_of(error) == 409 and "No changes" in str(error)
        # A disruptive domain change is confirmed (300 then responseChoice=1, done by bambou).
        domain.maintenance_mode = "ENABLED"
        domain.save()
        domain.fetch()
        assert domain.maintenance_mode == "ENABLED"

        # Errors: duplicate, unknown ID, bad enum, missing mandatory attribute.
        assert status_of(http_error(lambda: me.create_child(vsdk.NUEnterprise(name="acme")))) == 409
        missing = vsdk.NUSubnet(id="does-not-exist")
        assert status_of(http_error(missing.fetch)) == 404
        bad = vsdk.NUEnterprise(name="x")
        bad.threat_intelligence_enabled = "MAYBE"
        error = http_error(lambda: me.create_child(bad))
        assert status_of(error) == 409
        assert error.connection.response.errors[0]["property"] == "threatIntelligenceEnabled"
        error = http_error(lambda: zone.create_child(vsdk.NUSubnet(name="no-address")))
        assert status_of(error) == 409

        # Delete a vport, then the whole enterprise (bambou confirms with responseChoice=1).
        vp_host.delete()
        assert status_of(http_error(vp_host.fetch)) == 404
        ent.delete()
        assert status_of(http_error(ent.fetch)) == 404
        assert me.containers.get() == []
        assert me.vms.get() == []
        assert me.enterprises.get_first(filter='name == "acme"') is None

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            created = [
                e
                for p in pushed
                for e in p.get("events", [])
                if e["type"] == "CREATE" and e["entityType"] == "enterprise"
            ]
            deleted = [
                e
                for p in pushed
                for e in p.get("events", [])
                if e["type"] == "DELETE" and e["entityType"] == "enterprise"
            ]
            if created and deleted:
                break
            time.sleep(0.1)
        assert created and created[0]["entities"][0]["name"] == "acme"
        assert deleted, "the push channel delivered the delete"
    finally:
        session.push_center.stop()


def test_enterprise_users_are_isolated(directory_server: ServedDirectory) -> None:
    root = session_for(directory_server).user
    tenants = {}
    for name in ("red", "blue"):
        objs = build_domain(root, name)
        user = vsdk.NUUser(
            user_name=f"{name}-admin",
            password="pw-" + name,
            first_name=name,
            last_name="admin",
            email=f"admin@{name}.example",
        )
        objs["ent"].create_child(user)
        tenants[name] = objs
    red = session_for(directory_server, "red-admin", "pw-red", "RED").user
    assert red.enterprise_id == tenants["red"]["ent"].id and red.role != "CSPROOT"
    assert [e.name for e in red.enterprises.get()] == ["red"]
    assert [d.id for d in red.domains.get()] == [tenants["red"]["domain"].id]
    # Another enterprise's object does not exist as far as red is concerned.
    blue_zone = vsdk.NUZone(id=tenants["blue"]["zone"].id)
    assert status_of(http_error(blue_zone.fetch)) == 404
    error = http_error(
        lambda: blue_zone.create_child(
            vsdk.NUSubnet(name="intrude", address="10.99.0.0", netmask="255.255.255.0")
        )
    )
    assert status_of(error) == 404
    # Red works inside its own enterprise: overlapping addresses with blue are fine.
    red_zone = vsdk.NUZone(id=tenants["red"]["zone"].id)
    red_zone.fetch()
    extra = vsdk.NUSubnet(name="sub-c", address="10.10.3.0", netmask="255.255.255.0")
    red_zone.create_child(extra)
    assert extra.vn_id
    # But not create enterprises or shared resources.
    assert status_of(http_error(lambda: red.create_child(vsdk.NUEnterprise(name="evil")))) == 403
    # And a wrong password is a 401.
    with pytest.raises(BambouHTTPError):
        session_for(directory_server, "red-admin", "wrong", "red")


def test_subnet_overlap_only_within_a_domain(directory_server: ServedDirectory) -> None:
    me = session_for(directory_server).user
    objs = build_domain(me)
    error = http_error(
        lambda: objs["zone"].create_child(
            vsdk.NUSubnet(name="overlap", address="10.10.1.128", netmask="255.255.255.128")
        )
    )
    assert status_of(error) == 409
    assert error.connection.response.errors[0]["property"] == "address"
    other = vsdk.NUDomain(name="dom-2")
    objs["ent"].instantiate_child(other, objs["template"])
    zone = vsdk.NUZone(name="z")
    other.create_child(zone)
    same = vsdk.NUSubnet(name="same", address="10.10.1.0", netmask="255.255.255.0")
    zone.create_child(same)
    assert ipaddress.IPv4Address(same.gateway) == ipaddress.IPv4Address("10.10.1.1")
