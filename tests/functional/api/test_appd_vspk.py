"""The application designer driven by the real vspk SDK with the classes Overcast ships
(``overcast.sdk.appd``): create, fetch, update, errors as bambou raises them, delete."""

from __future__ import annotations

import pytest
from bambou.exceptions import BambouHTTPError
from vspk import v6 as vsdk

from overcast.sdk import appd
from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import build_domain, session_for


def test_wordpress_with_vspk(directory_server: ServedDirectory) -> None:
    me = session_for(directory_server).user
    acme = build_domain(me, "acme")
    ent, domain = acme["ent"], acme["domain"]
    http = appd.NUAppdService(name="http", protocol="6", destination_port="80")
    ent.create_child(http)
    assert http.direction == "REFLEXIVE" and http.id  # server defaults come back
    app = appd.NUAppdApplication(name="wordpress", associated_domain_id=domain.id)
    ent.create_child(app)
    web = appd.NUAppdTier(name="web", type="STANDARD", address="10.30.1.0", netmask="255.255.255.0")
    clients = appd.NUAppdTier(name="clients", type="NETWORK_MACRO", address="0.0.0.0", netmask="0.0.0.0")
    app.create_child(web)
    app.create_child(clients)
    flow = appd.NUAppdFlow(name="in", origin_tier_id=clients.id, destination_tier_id=web.id)
    app.create_child(flow)
    policy = appd.NUAppdFlowSecurityPolicy(action="FORWARD", associated_application_service_id=http.id)
    flow.create_child(policy)

    assert [a.name for a in ent.appd_applications.get()] == ["wordpress"]
    assert sorted(t.name for t in app.appd_tiers.get()) == ["clients", "web"]
    assert [p.priority for p in flow.appd_flow_security_policies.get()] == [0]
    app.fetch()
    assert (
        app.associated_zone_id and app.generated_objects == 10
    )  # zone, subnet, macro, 4 templates, 1 + 2 entries
    web.fetch()
    subnet = vsdk.NUSubnet(id=web.associated_object_id)
    subnet.fetch()
    assert (subnet.name, subnet.address, subnet.gateway) == ("wordpress - web", "10.30.1.0", "10.30.1.1")
    egress = vsdk.NUEgressACLTemplate(id=app.assoc_egress_acl_template_id)
    (entry,) = egress.egress_acl_entry_templates.get()
    assert (entry.destination_port, entry.network_type, entry.stateful) == ("80", "ENTERPRISE_NETWORK", True)

    # Errors are VSD's: a generated subnet refuses a direct edit; a bad service names its field.
    subnet.description = "mine"
    with pytest.raises(BambouHTTPError) as info:
        subnet.save()
    assert info.value.connection.response.status_code == 409
    bad = appd.NUAppdService(name="bad", protocol="6", destination_port="http")
    with pytest.raises(BambouHTTPError):
        ent.create_child(bad)

    http.destination_port = "8080"
    http.save()
    (entry,) = egress.egress_acl_entry_templates.get()
    assert entry.destination_port == "8080"
    app.delete()
    assert ent.appd_applications.get() == [] and vsdk.NUZone(id=app.associated_zone_id) is not None
    assert [z.name for z in domain.zones.get()] == ["zone-a"]
