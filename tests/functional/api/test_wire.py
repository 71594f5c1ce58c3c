"""Wire-level behaviour of the VSD API that bambou and other clients rely on (vsd-api.md §1–§8)."""

from __future__ import annotations

import base64
import time
import uuid

import pytest
import requests

from overcast.client.vsd import VsdClient, VsdClientError
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory, served_directory


@pytest.fixture
def client(directory_server: ServedDirectory) -> VsdClient:
    c = VsdClient(directory_server.url)
    c.login()
    return c


def make_domain(client: VsdClient, name: str = "acme") -> dict:
    return make_l3_subnet(client, name)


def expect_error(status: int, call, prop: str | None = None) -> VsdClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(VsdClientError) as info:
        call()
    assert info.value.status == status, info.value
    body = info.value.body
    assert isinstance(body, dict) and body["errors"][0]["descriptions"][0]["description"]
    if prop is not None:
        assert info.value.property == prop, info.value
    return info.value


def raw(
    served: ServedDirectory, method: str, path: str, secret: str = "csproot", org: str = "csp", **kwargs
) -> requests.Response:  # type: ignore[no-untyped-def]
    token = base64.b64encode(f"csproot:{secret}".encode()).decode()
    headers = {
        "Authorization": f"XREST {token}",
        "X-Nuage-Organization": org,
        "Content-Type": "application/json",
        **kwargs.pop("headers", {}),
    }
    return requests.request(method, served.api + path, headers=headers, timeout=30, **kwargs)


def test_login_and_authentication_errors(directory_server: ServedDirectory) -> None:
    me = raw(directory_server, "GET", "/me", org="CSP", data="null")
    assert me.status_code == 200 and isinstance(me.json(), list) and me.json()[0]["APIKey"]
    key = me.json()[0]["APIKey"]
    # Later requests use the key, with the organisation in any case.
    assert raw(directory_server, "GET", "/enterprises", secret=key, org="Csp", data="null").status_code == 200
    for response in (
        raw(directory_server, "GET", "/me", secret="wrong"),
        raw(directory_server, "GET", "/me", org="nope"),
        requests.get(directory_server.api + "/enterprises", timeout=10),
        raw(directory_server, "GET", "/enterprises", secret="not-a-key"),
    ):
        assert response.status_code == 401
        assert response.json()["errors"][0]["descriptions"]


def test_expired_api_key_answers_419(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with served_directory(f"sqlite:///{tmp_path}/d.db", api_key_ttl=0.5) as served:
        key = raw(served, "GET", "/me").json()[0]["APIKey"]
        assert raw(served, "GET", "/enterprises", secret=key).status_code == 200
        time.sleep(0.7)
        assert raw(served, "GET", "/enterprises", secret=key).status_code == 419
        # bambou then logs in again with the password and gets a fresh key.
        fresh = raw(served, "GET", "/me").json()[0]["APIKey"]
        assert fresh != key and raw(served, "GET", "/enterprises", secret=fresh).status_code == 200


def test_bodies_on_get_head_delete_are_ignored_and_lists_are_arrays(
    directory_server: ServedDirectory, client: VsdClient
) -> None:
    objs = make_domain(client)
    zone_id = objs["zone"]["ID"]
    response = client.request("GET", f"zones/{zone_id}")
    assert response.status_code == 200 and response.json()[0]["ID"] == zone_id
    empty = client.request("GET", f"subnets/{objs['subnet']['ID']}/vports")
    assert empty.status_code == 200 and empty.json() == [] and empty.headers["X-Nuage-Count"] == "0"
    head = client.request("HEAD", f"domains/{objs['domain']['ID']}/zones")
    assert head.status_code == 200 and head.headers["X-Nuage-Count"] == "1" and not head.content
    # DELETE carries the object's JSON as its body, like bambou.
    extra = client.create(f"domains/{objs['domain']['ID']}/zones", {"name": "z2"})
    response = client.request("DELETE", f"zones/{extra['ID']}", extra, params={"responseChoice": 1})
    assert response.status_code == 204


def test_put_semantics(client: VsdClient) -> None:
    objs = make_domain(client)
    zone = objs["zone"]
    # A full body with read-only fields and nulls: nulls are "unchanged", read-only ignored.
    body = {**zone, "description": "new", "policyGroupID": 999, "name": None}
    updated = client.update(f"zones/{zone['ID']}", body)
    assert updated["description"] == "new" and updated["name"] == "z"
    assert updated["policyGroupID"] == zone["policyGroupID"]
    error = expect_error(409, lambda: client.update(f"zones/{zone['ID']}", updated))
    assert error.body["internalErrorCode"] == 2039
    # Renaming onto a sibling's name is refused.
    client.create(f"domains/{objs['domain']['ID']}/zones", {"name": "taken"})
    expect_error(409, lambda: client.update(f"zones/{zone['ID']}", {"name": "taken"}), prop="name")
    # A rename reaches the indexed name (filters, uniqueness); a later update of other
    # attributes (data only) keeps it.
    zones = f"domains/{objs['domain']['ID']}/zones"
    client.update(f"zones/{zone['ID']}", {"name": "renamed"})
    client.update(f"zones/{zone['ID']}", {"description": "after the rename"})
    assert [z["ID"] for z in client.list(zones, filter="name == 'renamed'").items] == [zone["ID"]]
    assert client.list(zones, filter="name == 'z'").items == []
    assert client.create(zones, {"name": "z"})["name"] == "z"  # the old name is free again
    expect_error(409, lambda: client.create(zones, {"name": "renamed"}), prop="name")


def test_cascading_delete_needs_confirmation(client: VsdClient) -> None:
    objs = make_domain(client)
    subnet_id = objs["subnet"]["ID"]
    vport = client.create(
        f"subnets/{subnet_id}/vports", {"name": "vp", "type": "CONTAINER", "addressSpoofing": "INHERITED"}
    )
    ctr = client.create(
        "containers",
        {
            "name": "c",
            "UUID": str(uuid.uuid4()),
            "interfaces": [{"MAC": "02:00:00:00:00:01", "VPortID": vport["ID"]}],
        },
    )
    response = client.request("DELETE", f"subnets/{subnet_id}")
    assert response.status_code == 300
    assert response.json()["choices"] and response.json()["errors"][0]["descriptions"][0]["title"]
    assert client.get(f"vports/{vport['ID']}")["ID"] == vport["ID"], "nothing deleted before confirming"
    client.delete(f"subnets/{subnet_id}", confirm=True)
    expect_error(404, lambda: client.get(f"vports/{vport['ID']}"))
    # The container survives its deleted vport, without the interface and its address.
    survivor = client.get(f"containers/{ctr['ID']}")
    assert survivor["interfaces"] == [] and survivor["subnetIDs"] == []
    assert client.list(f"domains/{objs['domain']['ID']}/containerinterfaces").count == 0


def test_paging_defaults_and_headers(client: VsdClient) -> None:
    objs = make_domain(client)
    path = f"domains/{objs['domain']['ID']}/zones"
    client.create_many(path, [{"name": f"zone-{i:03d}"} for i in range(59)])
    first = client.request("GET", path)
    assert len(first.json()) == 50 and first.headers["X-Nuage-Count"] == "60"
    assert first.headers["X-Nuage-Page"] == "0" and first.headers["X-Nuage-PageSize"] == "50"
    assert len(client.list(path, page=1).items) == 10
    assert client.list(path, page=2).items == []
    # The total is the same however the page ends: short (the count comes from the page
    # itself), empty past the end, or exactly full.
    assert [client.list(path, page=p).count for p in (0, 1, 2, 7)] == [60, 60, 60, 60]
    assert [client.list(path, page=p, page_size=20).count for p in (2, 3)] == [60, 60]
    assert client.list(path, filter="name BEGINSWITH 'zone-05'").count == 9  # zone-050..058
    assert client.list(path, filter="name == 'none'").count == 0
    assert len(client.list_all(path)) == 60
    names = [z["name"] for z in client.list(path, order_by="name DESC", page_size=3).items]
    assert names == ["zone-058", "zone-057", "zone-056"]
    expect_error(400, lambda: client.list(path, page_size=0))
    expect_error(400, lambda: client.list(path, filter="name =="), prop="X-Nuage-Filter")
    expect_error(400, lambda: client.list(path, filter="nosuchattr == 1"), prop="X-Nuage-Filter")
    expect_error(400, lambda: client.list(path, order_by="name SIDEWAYS"))


def test_filter_grammar_over_http(client: VsdClient) -> None:
    objs = make_domain(client)
    path = f"domains/{objs['domain']['ID']}/zones"
    for i in range(6):
        client.create(path, {"name": f"app-{i}", "description": "even" if i % 2 == 0 else "odd"})

    def names(expr: str) -> list[str]:
        return sorted(z["name"] for z in client.list(path, filter=expr).items)

    assert names("name == 'app-1' OR name == \"app-2\"") == ["app-1", "app-2"]
    assert names("description IS 'odd' AND NOT (name ENDSWITH '5')") == ["app-1", "app-3"]
    assert names("name IN ('app-0', 'q', 'app-4')") == ["app-0", "app-4"]
    assert names("name LIKE 'APP-%' and description contains 'EVE'") == ["app-0", "app-2", "app-4"]
    assert names("policyGroupID > 100000") == []
    assert names("description ISNOT null AND name BEGINSWITH 'app'") == [f"app-{i}" for i in range(6)]
    assert names("app-3") == ["app-3"]  # free text
    subnet = client.get(f"subnets/{objs['subnet']['ID']}")
    assert (
        client.list(f"domains/{objs['domain']['ID']}/subnets", filter=f"vnId == {subnet['vnId']}").count == 1
    )


def test_a_name_is_unique_among_its_siblings_only(client: VsdClient) -> None:
    """The name check is probed together with the parent's lock (PostgreSQL: one round trip):
    a sibling's name is refused, a cousin's is not."""
    objs = make_domain(client)
    vport = {"name": "web", "type": "CONTAINER", "addressSpoofing": "INHERITED"}
    path = f"subnets/{objs['subnet']['ID']}/vports"
    client.create(path, vport)
    error = expect_error(409, lambda: client.create(path, vport), prop="name")
    assert error.body["internalErrorCode"] == 2510
    other = make_domain(client, "other")
    assert client.create(f"subnets/{other['subnet']['ID']}/vports", vport)["name"] == "web"
    assert client.create(path, {**vport, "name": "web2"})["name"] == "web2"


def test_bulk_create_reports_each_element(client: VsdClient) -> None:
    objs = make_domain(client)
    path = f"domains/{objs['domain']['ID']}/zones"
    response = client.request("POST", path, [{"name": "a"}, {"name": "a"}, {"name": None}, {"name": "b"}])
    assert response.status_code == 207
    body = response.json()
    assert [r["status"] for r in body["response"]] == [201, 409, 409, 201]
    assert body["responseMetadata"] == {"success": 2, "failure": 2}
    assert body["response"][1]["data"]["errors"][0]["property"] == "name"
    assert sorted(z["name"] for z in client.list(path).items) == ["a", "b", "z"]
    ok = client.request("POST", path, [{"name": "c"}, {"name": "d"}])
    assert ok.status_code == 201
    # Names taken by earlier requests (the array's own keys are looked up in the store).
    taken = client.request("POST", path, [{"name": "e"}, {"name": "c"}, {"name": "z"}])
    assert [r["status"] for r in taken.json()["response"]] == [201, 409, 409]
    # Where single objects cannot be created, arrays cannot either (a root listing of objects
    # that have a parent; a descendant listing): 405 in VSD's error JSON, nothing written.
    for where in ("policygroups", f"domains/{objs['domain']['ID']}/vports"):
        for body in ({"name": "pg"}, [{"name": "pg"}]):
            refused = client.request("POST", where, body)
            assert refused.status_code == 405, (where, body, refused.text)
            assert refused.json()["internalErrorCode"] == 2405
    assert client.list("policygroups").items == []


def test_errors_are_vsd_json(directory_server: ServedDirectory, client: VsdClient) -> None:
    expect_error(404, lambda: client.get("subnets/does-not-exist"))
    expect_error(404, lambda: client.list("nosuchthings"))
    response = client.request("POST", "enterprises", None)
    assert response.status_code == 400 and response.json()["errors"]
    bad_json = raw(directory_server, "POST", "/enterprises", secret=client.api_key or "", data="{not json")
    assert bad_json.status_code == 400 and bad_json.json()["errors"]
    expect_error(409, lambda: client.create("enterprises", {"description": "no name"}), prop="name")
    expect_error(
        409,
        lambda: client.create("enterprises", {"name": "x", "DHCPLeaseInterval": "soon"}),
        prop="DHCPLeaseInterval",
    )
    # Nothing was created by the failures.
    assert client.list("enterprises", filter="name == 'x'").items == []
    assert requests.get(directory_server.url + "/openapi.json", timeout=10).json()["paths"]


def test_validation_of_addresses_ports_and_references(client: VsdClient) -> None:
    objs = make_domain(client)
    zone_path = f"zones/{objs['zone']['ID']}/subnets"
    cases = [
        ({"name": "a", "address": "10.1.0.0", "netmask": "255.0.255.0"}, "netmask"),
        ({"name": "a", "address": "10.1.0.1", "netmask": "255.255.255.0"}, "address"),
        ({"name": "a", "address": "10.1.0.0", "netmask": "255.255.255.0", "gateway": "10.2.0.1"}, "gateway"),
        (
            {"name": "a", "address": "10.1.0.0", "netmask": "255.255.255.0", "gateway": "10.1.0.255"},
            "gateway",
        ),
        ({"name": "a", "address": "300.1.0.0", "netmask": "255.255.255.0"}, "address"),
        ({"name": "a", "address": "10.0.0.128", "netmask": "255.255.255.128"}, "address"),  # overlap
    ]
    for body, prop in cases:
        expect_error(409, lambda b=body: client.create(zone_path, b), prop=prop)
    domain_id = objs["domain"]["ID"]
    acl = client.create(f"domains/{domain_id}/ingressacltemplates", {"name": "in", "active": True})
    pg = client.create(f"domains/{domain_id}/policygroups", {"name": "pg"})
    other = make_domain(client, "other")
    foreign_pg = client.create(f"domains/{other['domain']['ID']}/policygroups", {"name": "pg"})
    entry_path = f"ingressacltemplates/{acl['ID']}/ingressaclentrytemplates"
    base = {
        "action": "FORWARD",
        "etherType": "0x0800",
        "DSCP": "*",
        "locationType": "ANY",
        "networkType": "ANY",
        "protocol": "6",
        "priority": 1,
    }
    entry_cases = [
        ({"destinationPort": "70000"}, "destinationPort"),
        ({"destinationPort": "90-80"}, "destinationPort"),
        ({"destinationPort": "http"}, "destinationPort"),
        ({"protocol": "1", "destinationPort": "80"}, "destinationPort"),
        ({"protocol": "tcp"}, "protocol"),
        ({"ICMPType": "8"}, "ICMPType"),
        ({"DSCP": "64"}, "DSCP"),
        ({"etherType": "zz"}, "etherType"),
        ({"action": "MAYBE"}, "action"),
        ({"locationType": "POLICYGROUP"}, "locationID"),
        ({"locationType": "POLICYGROUP", "locationID": str(uuid.uuid4())}, "locationID"),
        ({"locationType": "POLICYGROUP", "locationID": foreign_pg["ID"]}, "locationID"),
        ({"networkType": "ZONE", "networkID": pg["ID"]}, "networkID"),
        ({"networkType": "ENTERPRISE_NETWORK", "networkID": str(uuid.uuid4())}, "networkID"),
    ]
    for change, prop in entry_cases:
        expect_error(409, lambda c=change: client.create(entry_path, {**base, **c}), prop=prop)
    good = client.create(
        entry_path,
        {**base, "locationType": "POLICYGROUP", "locationID": pg["ID"], "destinationPort": "1000-2000"},
    )
    assert good["sourcePort"] == "*" and good["locationEntityType"] == "POLICYGROUP"
    expect_error(409, lambda: client.create(entry_path, {**base}), prop="priority")  # same priority
    # A policy group an entry refers to cannot be deleted from under it.
    expect_error(409, lambda: client.delete(f"policygroups/{pg['ID']}"))
    client.delete(f"ingressaclentrytemplates/{good['ID']}")
    client.delete(f"policygroups/{pg['ID']}")
    # MAC and vport type checks on interfaces.
    vport = client.create(
        f"subnets/{objs['subnet']['ID']}/vports",
        {"name": "v", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
    )
    expect_error(
        409,
        lambda: client.create(
            "containers",
            {"name": "c", "UUID": "u1", "interfaces": [{"MAC": "zz:00:00:00:00:01", "VPortID": vport["ID"]}]},
        ),
        prop="interfaces[0].MAC",
    )
    expect_error(
        409,
        lambda: client.create(
            "vms",
            {"name": "v", "UUID": "u2", "interfaces": [{"MAC": "02:00:00:00:00:01", "VPortID": vport["ID"]}]},
        ),
        prop="interfaces[0].VPortID",
    )
    assert client.list(f"subnets/{objs['subnet']['ID']}/containers").count == 0


def test_template_instantiation_copies_contents(client: VsdClient) -> None:
    ent = client.create("enterprises", {"name": "tpl"})
    template = client.create(f"enterprises/{ent['ID']}/domaintemplates", {"name": "three-tier"})
    zt = client.create(f"domaintemplates/{template['ID']}/zonetemplates", {"name": "web"})
    st = client.create(
        f"zonetemplates/{zt['ID']}/subnettemplates",
        {"name": "web-net", "address": "10.1.0.0", "netmask": "255.255.255.0"},
    )
    pgt = client.create(f"domaintemplates/{template['ID']}/policygrouptemplates", {"name": "web-pg"})
    acl = client.create(
        f"domaintemplates/{template['ID']}/egressacltemplates", {"name": "allow-web", "active": True}
    )
    client.create(
        f"egressacltemplates/{acl['ID']}/egressaclentrytemplates",
        {
            "action": "FORWARD",
            "etherType": "0x0800",
            "DSCP": "*",
            "protocol": "6",
            "destinationPort": "80",
            "locationType": "POLICYGROUP",
            "locationID": pgt["ID"],
            "networkType": "ZONE",
            "networkID": zt["ID"],
            "priority": 5,
        },
    )
    domains = [
        client.create(f"enterprises/{ent['ID']}/domains", {"name": f"d{i}", "templateID": template["ID"]})
        for i in range(2)
    ]
    vnis = set()
    for domain in domains:
        zones = client.list(f"domains/{domain['ID']}/zones").items
        subnets = client.list(f"domains/{domain['ID']}/subnets").items
        pgs = client.list(f"domains/{domain['ID']}/policygroups").items
        entries = client.list(f"domains/{domain['ID']}/egressaclentrytemplates").items
        assert [z["name"] for z in zones] == ["web"] and zones[0]["templateID"] == zt["ID"]
        assert [s["address"] for s in subnets] == ["10.1.0.0"]
        vnis.add(subnets[0]["vnId"])
        assert [p["name"] for p in pgs] == ["web-pg"]
        assert entries[0]["locationID"] == pgs[0]["ID"] and entries[0]["networkID"] == zones[0]["ID"]
    assert len(vnis) == 2, "every instance gets its own VNIs"
    assert {d["ID"] for d in client.list(f"domaintemplates/{template['ID']}/domains").items} == {
        d["ID"] for d in domains
    }
    instances = client.list(f"subnettemplates/{st['ID']}/subnets").items
    assert sorted(s["parentID"] for s in instances) == sorted(
        z["ID"] for d in domains for z in client.list(f"domains/{d['ID']}/zones").items
    )
    # What an instance holds is not listed under its template: a vport of an instantiated
    # subnet is listed under the subnet, its zone and domain, and under no template.
    vport = client.create(f"subnets/{instances[0]['ID']}/vports", {"name": "v", "type": "CONTAINER"})
    for listing in ("domains", "zones"):
        assert [
            v["ID"]
            for v in client.list(
                f"{listing}/{vport['domainID' if listing == 'domains' else 'zoneID']}/vports"
            ).items
        ] == [vport["ID"]]
    expect_error(409, lambda: client.delete(f"domaintemplates/{template['ID']}"))
    bad = expect_error(409, lambda: client.create(f"enterprises/{ent['ID']}/domains", {"name": "x"}))
    assert bad.property == "templateID"


def test_push_channel_queues_events_between_polls(
    directory_server: ServedDirectory, client: VsdClient
) -> None:
    first = client.request("GET", "events").json()
    assert first["events"] == [] and first["uuid"]
    made = client.create("enterprises", {"name": "e1"})
    client.create("enterprises", {"name": "e2"})
    second = client.request("GET", "events", params={"uuid": first["uuid"]}).json()
    assert [e["entities"][0]["name"] for e in second["events"]] == ["e1", "e2"]
    assert all(e["type"] == "CREATE" and e["entityType"] == "enterprise" for e in second["events"])
    # The log stores objects without their unset attributes; events carry the full object.
    assert second["events"][0]["entities"][0] == made
    started = time.monotonic()
    idle = client.request("GET", "events", params={"uuid": first["uuid"]}).json()
    assert idle["events"] == [] and time.monotonic() - started >= 1.5  # held, then answered


def test_computed_listings(client: VsdClient) -> None:
    objs = make_domain(client)
    domain_id = objs["domain"]["ID"]
    assert [t["ID"] for t in client.list(f"domains/{domain_id}/domaintemplates").items] == [
        objs["template"]["ID"]
    ]
    vport = client.create(
        f"subnets/{objs['subnet']['ID']}/vports",
        {"name": "vp", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
    )
    other = client.create(
        f"subnets/{objs['subnet']['ID']}/vports",
        {"name": "other", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
    )
    pg = client.create(f"domains/{domain_id}/policygroups", {"name": "pg"})
    client.assign(f"vports/{vport['ID']}/policygroups", [pg["ID"]])
    active = client.create(f"domains/{domain_id}/egressacltemplates", {"name": "on", "active": True})
    inactive = client.create(f"domains/{domain_id}/egressacltemplates", {"name": "off", "active": False})
    base = {"action": "FORWARD", "etherType": "0x0800", "DSCP": "*", "networkType": "ANY", "protocol": "ANY"}
    path = f"egressacltemplates/{active['ID']}/egressaclentrytemplates"
    any_entry = client.create(path, {**base, "locationType": "ANY", "priority": 1})
    pg_entry = client.create(
        path, {**base, "locationType": "POLICYGROUP", "locationID": pg["ID"], "priority": 2}
    )
    zone_entry = client.create(
        path, {**base, "locationType": "ZONE", "locationID": objs["zone"]["ID"], "priority": 3}
    )
    client.create(
        f"egressacltemplates/{inactive['ID']}/egressaclentrytemplates",
        {**base, "locationType": "ANY", "priority": 1},
    )
    applicable = {e["ID"] for e in client.list(f"vports/{vport['ID']}/egressaclentrytemplates").items}
    assert applicable == {any_entry["ID"], pg_entry["ID"], zone_entry["ID"]}
    assert {e["ID"] for e in client.list(f"vports/{other['ID']}/egressaclentrytemplates").items} == {
        any_entry["ID"],
        zone_entry["ID"],
    }
    assert client.list(f"vports/{vport['ID']}/ingressaclentrytemplates").items == []
    ctr = client.create(
        "containers",
        {
            "name": "c",
            "UUID": str(uuid.uuid4()),
            "interfaces": [{"MAC": "02:00:00:00:00:01", "VPortID": vport["ID"]}],
        },
    )
    assert [c["ID"] for c in client.list(f"users/{client.me['ID']}/containers").items] == [ctr["ID"]]
    # It belongs to its vports' enterprise, not to that of the operator who created it; one
    # without interfaces belongs to its creator's enterprise.
    tenant, operator = objs["ent"]["ID"], client.me["enterpriseID"]
    assert [c["ID"] for c in client.list(f"enterprises/{tenant}/containers").items] == [ctr["ID"]]
    assert client.list(f"enterprises/{operator}/containers").items == []
    bare = client.create("containers", {"name": "bare", "UUID": str(uuid.uuid4())})
    assert [c["ID"] for c in client.list(f"enterprises/{operator}/containers").items] == [bare["ID"]]
    assert len(client.list(f"users/{client.me['ID']}/containers").items) == 2


def test_bulk_containers_fail_alone(directory_server: ServedDirectory, client: VsdClient) -> None:
    objs = make_domain(client)
    subnet_id = objs["subnet"]["ID"]
    vports = client.create_many(
        f"subnets/{subnet_id}/vports",
        [{"name": f"v{i}", "type": "CONTAINER", "addressSpoofing": "INHERITED"} for i in range(6)]
        + [{"name": "v0", "type": "CONTAINER", "addressSpoofing": "INHERITED"}],
    )
    assert [r["status"] for r in vports] == [201] * 6 + [409]
    ids = [r["data"]["ID"] for r in vports[:6]]
    items = [
        {"name": "c0", "UUID": "u0", "interfaces": [{"MAC": "02:00:00:00:01:00", "VPortID": ids[0]}]},
        {"name": "c1", "UUID": "u1", "interfaces": [{"MAC": "02:00:00:00:01:00", "VPortID": ids[1]}]},  # MAC
        {"name": "c2", "UUID": "u2", "interfaces": [{"MAC": "02:00:00:00:01:02", "VPortID": ids[2]}]},
        {"name": "c3", "UUID": "u0", "interfaces": [{"MAC": "02:00:00:00:01:03", "VPortID": ids[3]}]},  # UUID
        {
            "name": "c4",
            "UUID": "u4",
            "interfaces": [{"MAC": "02:00:00:00:01:04", "VPortID": ids[0]}],
        },  # vport
        {
            "name": "c5",
            "UUID": "u5",
            "interfaces": [{"MAC": "02:00:00:00:01:05", "VPortID": ids[5], "IPAddress": "10.0.0.200"}],
        },
    ]
    results = client.create_many("containers", items)
    assert [r["status"] for r in results] == [201, 409, 201, 409, 409, 201]
    made = {r["data"]["name"]: r["data"] for r in results if r["status"] == 201}
    assert made["c0"]["interfaces"][0]["IPAddress"] == "10.0.0.2"
    assert made["c2"]["interfaces"][0]["IPAddress"] == "10.0.0.3", "a failed element frees what it took"
    assert made["c5"]["interfaces"][0]["IPAddress"] == "10.0.0.200"
    assert sorted(c["name"] for c in client.list_all(f"subnets/{subnet_id}/containers")) == ["c0", "c2", "c5"]
    assert client.count(f"domains/{objs['domain']['ID']}/containerinterfaces") == 3
    attached = {v["name"]: v["hasAttachedInterfaces"] for v in client.list_all(f"subnets/{subnet_id}/vports")}
    assert attached == {"v0": True, "v1": False, "v2": True, "v3": False, "v4": False, "v5": True}
    # What failed left nothing behind: the MAC, address and vport of c1 are free again.
    again = client.create(
        "containers",
        {"name": "c1", "UUID": "u1", "interfaces": [{"MAC": "02:00:00:00:01:01", "VPortID": ids[1]}]},
    )
    assert again["interfaces"][0]["IPAddress"] == "10.0.0.201"  # after the highest in use
    # A UUID taken by an earlier request fails alone too.
    later = client.create_many(
        "containers",
        [
            {"name": "c6", "UUID": "u2", "interfaces": [{"MAC": "02:00:00:00:01:06", "VPortID": ids[3]}]},
            {"name": "c7", "UUID": "u7", "interfaces": [{"MAC": "02:00:00:00:01:07", "VPortID": ids[4]}]},
        ],
    )
    assert [r["status"] for r in later] == [409, 201]
    assert later[0]["data"]["errors"][0]["property"] == "UUID"


def test_bulk_containers_written_together_read_back_whole(client: VsdClient) -> None:
    """A valid array is written in batches (PostgreSQL: COPY for new rows, one array-joined
    UPDATE for the vports it attaches): every row must read back as if written one by one."""
    objs = make_domain(client)
    subnet_id, domain_id = objs["subnet"]["ID"], objs["domain"]["ID"]
    count = 24
    vports = client.create_many(
        f"subnets/{subnet_id}/vports",
        [{"name": f"v{i}", "type": "CONTAINER", "addressSpoofing": "INHERITED"} for i in range(count)],
    )
    ids = [r["data"]["ID"] for r in vports]
    results = client.create_many(
        "containers",
        [
            {
                "name": f"c{i}",
                "UUID": f"uuid-{i}",
                "interfaces": [{"MAC": f"02:00:00:00:02:{i:02x}", "VPortID": vport_id}],
            }
            for i, vport_id in enumerate(ids)
        ],
    )
    assert [r["status"] for r in results] == [201] * count
    stored = {c["name"]: c for c in client.list_all(f"subnets/{subnet_id}/containers")}
    assert len(stored) == count
    addresses = {c["interfaces"][0]["IPAddress"] for c in stored.values()}
    assert len(addresses) == count
    assert stored["c7"]["interfaces"][0]["VPortID"] == ids[7]
    assert stored["c7"]["domainIDs"] == [domain_id]
    attached = [v["hasAttachedInterfaces"] for v in client.list_all(f"subnets/{subnet_id}/vports")]
    assert attached == [True] * count
    assert client.count(f"domains/{domain_id}/containerinterfaces") == count
    assert client.count(f"zones/{objs['zone']['ID']}/containerinterfaces") == count
    assert client.count(f"subnets/{subnet_id}/containerinterfaces") == count
    # Containers too are listed by their vports' domain and zone through the vports' rows.
    assert client.count(f"domains/{domain_id}/containers") == count
    assert client.count(f"zones/{objs['zone']['ID']}/containers") == count
    other = make_domain(client, "other")  # an interface is listed under its own domain only
    assert client.count(f"domains/{other['domain']['ID']}/containerinterfaces") == 0
    assert client.count(f"zones/{other['zone']['ID']}/containers") == 0
    assert client.count(f"vports/{ids[3]}/containerinterfaces") == 1
    assert client.count(f"vports/{ids[3]}/containers") == 1
    assert client.count(f"enterprises/{objs['ent']['ID']}/containers") == count
    # Unique keys already stored are found by a later array (loaded once per scope).
    again = client.create_many(
        f"subnets/{subnet_id}/vports", [{"name": "v1", "type": "CONTAINER", "addressSpoofing": "INHERITED"}]
    )
    assert [r["status"] for r in again] == [409]
    extra = client.create_many(
        f"subnets/{subnet_id}/vports", [{"name": "w", "type": "CONTAINER", "addressSpoofing": "INHERITED"}]
    )
    twin = client.create_many(
        "containers",
        [
            {
                "name": "twin",
                "UUID": "uuid-3",
                "interfaces": [{"MAC": "02:00:00:00:03:00", "VPortID": extra[0]["data"]["ID"]}],
            }
        ],
    )
    assert [r["status"] for r in twin] == [409]


def test_bulk_elements_that_read_the_store_keep_earlier_successes(client: VsdClient) -> None:
    """An element whose checks read the store (sibling priorities) and then fails must not
    take the elements before it down with it."""
    objs = make_domain(client)
    acl = client.create(f"domains/{objs['domain']['ID']}/ingressacltemplates", {"name": "p", "active": True})
    base = {
        "action": "FORWARD",
        "etherType": "0x0800",
        "DSCP": "*",
        "locationType": "ANY",
        "networkType": "ANY",
        "protocol": "ANY",
    }
    path = f"ingressacltemplates/{acl['ID']}/ingressaclentrytemplates"
    results = client.create_many(
        path,
        [{**base, "priority": 1}, {**base, "priority": 2}, {**base, "priority": 1}, {**base, "priority": 3}],
    )
    assert [r["status"] for r in results] == [201, 201, 409, 201]
    stored = sorted(e["priority"] for e in client.list_all(path))
    assert stored == [1, 2, 3]
    assert {e["ID"] for e in client.list_all(path)} == {
        r["data"]["ID"] for r in results if r["status"] == 201
    }
