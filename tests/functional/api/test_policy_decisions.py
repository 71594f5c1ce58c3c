"""``policydecisions`` of container interfaces and vports, driven by vspk: the ingress and egress
entries that apply to an endpoint, in evaluation order — those located on its group or on
anything, not those located on another group — and another tenant's interface a 404."""

from __future__ import annotations

from vspk import v6 as vsdk

from overcast.client.vsd import VsdClient
from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import Shop, build_domain, refused, session_for


def test_policy_decisions_of_an_interface(directory_server: ServedDirectory) -> None:
    shop = Shop(directory_server)
    anything = vsdk.NUIngressACLEntryTemplate(
        action="DROP", location_type="ANY", network_type="ANY", protocol="17", destination_port="53",
        priority=1, ether_type="0x0800", description="no dns",
    )  # fmt: skip
    shop.ingress.create_child(anything)
    db_out = shop.rule(shop.ingress, vsdk.NUIngressACLEntryTemplate, shop.db, shop.web, "8080")
    web_out = shop.ingress.ingress_acl_entry_templates.get(filter=f"locationID == '{shop.web.id}'")
    db_in = shop.egress.egress_acl_entry_templates.get()

    (web1,) = shop.me.containers.get(filter="name == 'web1'")
    (interface,) = web1.container_interfaces.get()
    (decision,) = interface.policy_decisions.get()
    assert [e["ID"] for e in decision.ingress_acls] == [anything.id] + [e.id for e in web_out]
    assert decision.egress_acls == []  # the only egress entry is located on db
    assert decision.ingress_acls[0]["description"] == "no dns"
    assert decision.parent_id == interface.id

    (db1,) = shop.me.containers.get(filter="name == 'db1'")
    (db_interface,) = db1.container_interfaces.get()
    (db_decision,) = db_interface.policy_decisions.get()
    assert [e["ID"] for e in db_decision.ingress_acls] == [anything.id, db_out.id]
    assert [e["ID"] for e in db_decision.egress_acls] == [e.id for e in db_in]
    # The same through the vport (not a VSD child of vports: the raw API).
    client = VsdClient(directory_server.url)
    through_vport = client.call("GET", f"vports/{shop.vports['db1'].id}/policydecisions")[0]
    assert [e["ID"] for e in through_vport["egressACLs"]] == [e.id for e in db_in]

    # Another tenant does not learn the interface exists.
    other = build_domain(shop.me, "globex")
    other["ent"].create_child(vsdk.NUUser(user_name="eve", password="Secret-123456", first_name="e",
                                          last_name="v", email="e@v.w"))  # fmt: skip
    session_for(directory_server, "eve", "Secret-123456", "globex")
    status, _ = refused(lambda: interface.policy_decisions.get())
    assert status == 404
