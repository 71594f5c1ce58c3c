"""Split activation, as orchestrators create VMs, driven by vspk: a VM whose interfaces name
their subnet (``attachedNetworkID``) gets a vport per interface from the directory, an address
allocated (or the one asked for), and loses those vports when it is deleted; a VM may also mix
given vports and networks. Wrong requests get VSD errors that say what is wrong, and change
nothing."""

from __future__ import annotations

import uuid

from vspk import v6 as vsdk

from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import build_domain, refused, session_for


def test_split_activation(directory_server: ServedDirectory) -> None:
    me = session_for(directory_server).user
    acme = build_domain(me, "acme")
    sub_a, sub_b = acme["sub_a"], acme["sub_b"]
    vm = vsdk.NUVM(
        name="db-vm",
        uuid=str(uuid.uuid4()),
        interfaces=[
            {"MAC": "52:54:00:00:00:01", "attachedNetworkID": sub_a.id, "attachedNetworkType": "SUBNET"},
            {"MAC": "52:54:00:00:00:02", "attachedNetworkID": sub_b.id, "IPAddress": "10.10.2.50"},
        ],
    )
    me.create_child(vm)
    first, second = sorted(vm.vm_interfaces.get(), key=lambda i: i.mac)
    assert first.ip_address.startswith("10.10.1.") and second.ip_address == "10.10.2.50"
    (vport_a,) = sub_a.vports.get()
    assert first.vport_id == vport_a.id and vport_a.type == "VM" and vport_a.name == "db-vm-525400000001"
    assert second.vport_id == sub_b.vports.get()[0].id

    # Deleted with the VM: its vports go too (the addresses return to the subnets).
    vm.delete()
    assert sub_a.vports.get() == [] and sub_b.vports.get() == []

    # Mixed: one given vport, one network.
    given = vsdk.NUVPort(name="given", type="VM", address_spoofing="INHERITED")
    sub_a.create_child(given)
    mixed = vsdk.NUVM(
        name="mixed",
        uuid=str(uuid.uuid4()),
        interfaces=[
            {"MAC": "52:54:00:00:00:03", "VPortID": given.id},
            {"MAC": "52:54:00:00:00:04", "attachedNetworkID": sub_b.id},
        ],
    )
    me.create_child(mixed)
    assert {i.vport_id for i in mixed.vm_interfaces.get()} == {given.id, sub_b.vports.get()[0].id}
    mixed.delete()
    assert [v.id for v in sub_a.vports.get()] == [given.id]  # a given vport stays

    # Wrong requests: VSD errors naming what is wrong, nothing written.
    cases = [
        ([{"MAC": "52:54:00:00:00:05", "attachedNetworkID": "no-such-subnet"}], "attachedNetworkID"),
        ([{"MAC": "52:54:00:00:00:06", "attachedNetworkID": sub_a.id, "attachedNetworkType": "ZONE"}],
         "attachedNetworkType"),
        ([{"attachedNetworkID": sub_a.id}], "MAC"),
        ([{"MAC": "52:54:00:00:00:07"}], "VPortID"),
        ([{"MAC": "52:54:00:00:00:08", "attachedNetworkID": sub_a.id},
          {"MAC": "52:54:00:00:00:08", "attachedNetworkID": sub_b.id}], "same MAC"),
        ([{"MAC": "52:54:00:00:00:09", "attachedNetworkID": sub_a.id, "IPAddress": "10.99.0.5"}],
         "IPAddress"),
    ]  # fmt: skip
    for interfaces, named in cases:
        status, text = refused(
            lambda i=interfaces: me.create_child(vsdk.NUVM(name="bad", uuid=str(uuid.uuid4()), interfaces=i))
        )
        assert status in (400, 404, 409) and named in text, (interfaces, text)
    assert me.vms.get() == [] and [v.id for v in sub_a.vports.get()] == [given.id]
    assert sub_b.vports.get() == []

    # Another tenant's subnet does not exist for it.
    globex = build_domain(me, "globex")
    globex["ent"].create_child(
        vsdk.NUUser(user_name="eve", password="Secret-123456", first_name="e", last_name="v", email="e@v.w")
    )
    eve = session_for(directory_server, "eve", "Secret-123456", "globex").user
    status, text = refused(lambda: eve.create_child(vsdk.NUVM(name="x", uuid=str(uuid.uuid4()), interfaces=[
        {"MAC": "52:54:00:00:00:0a", "attachedNetworkID": sub_a.id}])))  # fmt: skip
    assert status in (404, 409) and "attachedNetworkID" in text
