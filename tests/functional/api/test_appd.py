"""The application designer through the API: the WordPress application (clients → web tcp/80,
web → app tcp/8080, app → db tcp/3306) generates a zone, subnets, a network macro, ACL templates
and entries; they refuse direct edits; redeploying changes nothing; changes and deletes
reconcile; bad designs are refused whole."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from overcast.client.vsd import VsdClient, VsdClientError
from overcast.controller.feed import load_policy_input
from overcast.directory.controller_interface import EndpointClaim, claim_endpoints, register_host
from overcast.directory.service import SYSTEM
from overcast.policy.compiler import compile_hosts
from overcast.policy.oracle import Packet, verdict
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory

from ...support.appd import wordpress
from .test_wire import expect_error


@pytest.fixture
def client(directory_server: ServedDirectory) -> VsdClient:
    c = VsdClient(directory_server.url)
    c.login()
    return c


def generated(client: VsdClient, domain_id: str) -> dict[str, dict[str, Any]]:
    """Every object of the domain (and its enterprise's macros) an application generated."""
    found = {}
    paths = [
        f"domains/{domain_id}/{r}"
        for r in (
            "zones",
            "subnets",
            "policygroups",
            "ingressacltemplates",
            "egressacltemplates",
            "ingressaclentrytemplates",
            "egressaclentrytemplates",
        )
    ]
    paths.append("enterprisenetworks")
    for path in paths:
        for obj in client.list_all(path):
            if str(obj.get("externalID") or "").startswith("appd:"):
                found[obj["externalID"]] = obj
    return found


def test_wordpress_generates_ordinary_objects(client: VsdClient) -> None:
    wp = wordpress(client)
    made = generated(client, wp["domain"]["ID"])
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in made.values():
        key = obj["externalID"].split(":")[2]
        by_kind.setdefault(key, []).append(obj)
    (zone,) = by_kind["zone"]
    assert zone["name"] == "wordpress" and wp["app"]["associatedZoneID"] == zone["ID"]
    subnets = {s["name"]: s for s in client.list_all(f"zones/{zone['ID']}/subnets")}
    assert sorted(subnets) == ["wordpress - app", "wordpress - db", "wordpress - web"]
    assert (subnets["wordpress - db"]["address"], subnets["wordpress - db"]["gateway"]) == (
        "10.10.3.0",
        "10.10.3.1",
    )
    macro = client.get(
        f"enterprisenetworks/{client.get('appdtiers/' + wp['tiers']['clients']['ID'])['associatedObjectID']}"
    )
    assert (macro["name"], macro["address"], macro["netmask"]) == (
        "wordpress - clients",
        "0.0.0.0",
        "0.0.0.0",
    )
    egress = client.list_all(
        f"egressacltemplates/{wp['app']['assocEgressACLTemplateId']}/egressaclentrytemplates"
    )
    ingress = client.list_all(
        f"ingressacltemplates/{wp['app']['assocIngressACLTemplateId']}/ingressaclentrytemplates"
    )
    # clients → web: egress at web only (clients are outside); web → app and app → db: both sides.
    assert sorted(
        (e["priority"], e["locationType"], e["networkType"], e["destinationPort"], e["stateful"])
        for e in egress
    ) == [
        (100, "SUBNET", "ENTERPRISE_NETWORK", "80", True),
        (200, "SUBNET", "SUBNET", "8080", True),
        (300, "SUBNET", "SUBNET", "3306", True),
    ]
    assert [e["locationID"] for e in sorted(egress, key=lambda e: e["priority"])] == [
        subnets[f"wordpress - {t}"]["ID"] for t in ("web", "app", "db")
    ]
    assert sorted((e["priority"], e["locationID"], e["networkID"]) for e in ingress) == [
        (200, subnets["wordpress - web"]["ID"], subnets["wordpress - app"]["ID"]),
        (300, subnets["wordpress - app"]["ID"], subnets["wordpress - db"]["ID"]),
    ]
    drops = [t for t in by_kind["egress-drop"] + by_kind["ingress-drop"]]
    assert {t["priorityType"] for t in drops} == {"BOTTOM"} and all(t["active"] for t in drops)
    (drop,) = client.list_all(f"egressacltemplates/{by_kind['egress-drop'][0]['ID']}/egressaclentrytemplates")
    assert (drop["action"], drop["locationType"], drop["locationID"], drop["networkType"]) == (
        "DROP",
        "ZONE",
        zone["ID"],
        "ANY",
    )
    assert wp["app"]["generatedObjects"] == len(made)

    # Redeploying (any change to the design that compiles the same) changes nothing.
    client.update(f"appdapplications/{wp['app']['ID']}", {"description": "the blog"})
    assert generated(client, wp["domain"]["ID"]) == made


def test_generated_objects_refuse_direct_edits(client: VsdClient) -> None:
    wp = wordpress(client)
    zone = wp["app"]["associatedZoneID"]
    (web,) = [s for s in client.list_all(f"zones/{zone}/subnets") if s["name"] == "wordpress - web"]
    error = expect_error(409, lambda: client.update(f"subnets/{web['ID']}", {"description": "mine"}))
    assert "owned by application 'wordpress'" in str(error)
    expect_error(409, lambda: client.delete(f"zones/{zone}"))
    template = wp["app"]["assocEgressACLTemplateId"]
    expect_error(
        409,
        lambda: client.create(
            f"egressacltemplates/{template}/egressaclentrytemplates",
            {"action": "FORWARD", "locationType": "ANY", "networkType": "ANY"},
        ),
    )
    expect_error(
        409,
        lambda: client.create(
            f"zones/{zone}/subnets", {"name": "extra", "address": "10.10.9.0", "netmask": "255.255.255.0"}
        ),
    )
    expect_error(
        409,
        lambda: client.create(
            f"domains/{wp['domain']['ID']}/zones",
            {"name": "z2", "externalID": f"appd:{wp['app']['ID']}:zone"},
        ),
        "externalID",
    )
    # Endpoints join a tier: a vport in its subnet.
    vport = client.create(
        f"subnets/{web['ID']}/vports", {"name": "web1", "type": "CONTAINER", "addressSpoofing": "INHERITED"}
    )
    # The application cannot take its tier's subnet away while a vport is in it, nor its domain go.
    expect_error(409, lambda: client.delete(f"appdtiers/{wp['tiers']['web']['ID']}"))  # flows use it
    for flow in ("clients-web", "web-app"):
        client.delete(f"appdflows/{wp['flows'][flow]['ID']}")
    error = expect_error(409, lambda: client.delete(f"appdtiers/{wp['tiers']['web']['ID']}"))
    assert "detach its endpoints first" in str(error)
    expect_error(409, lambda: client.delete(f"appdapplications/{wp['app']['ID']}"))
    expect_error(409, lambda: client.delete(f"domains/{wp['domain']['ID']}"))
    client.delete(f"vports/{vport['ID']}")
    client.delete(f"appdapplications/{wp['app']['ID']}")
    assert generated(client, wp["domain"]["ID"]) == {}
    client.delete(f"domains/{wp['domain']['ID']}")


def test_changes_reconcile(client: VsdClient) -> None:
    wp = wordpress(client)
    before = generated(client, wp["domain"]["ID"])
    # A flow goes: its entries go, the later flow's entries move up; the rest is untouched.
    client.delete(f"appdflows/{wp['flows']['web-app']['ID']}")
    after = generated(client, wp["domain"]["ID"])
    gone = {k for k in before if k not in after}
    assert {k.split(":")[3] for k in gone} == {wp["flows"]["web-app"]["ID"]}
    renewed = {k for k in after if k in before and after[k]["ID"] != before[k]["ID"]}
    assert {k.split(":")[3] for k in renewed} == {wp["flows"]["app-db"]["ID"]}  # its priorities moved
    egress = client.list_all(
        f"egressacltemplates/{wp['app']['assocEgressACLTemplateId']}/egressaclentrytemplates"
    )
    assert sorted(e["priority"] for e in egress) == [100, 200]
    assert after[f"appd:{wp['app']['ID']}:zone"] == before[f"appd:{wp['app']['ID']}:zone"]
    # A service's port changes: every entry using it follows.
    client.update(f"appdservices/{wp['services']['mysql']['ID']}", {"destinationPort": "3307"})
    egress = client.list_all(
        f"egressacltemplates/{wp['app']['assocEgressACLTemplateId']}/egressaclentrytemplates"
    )
    assert sorted(e["destinationPort"] for e in egress) == ["3307", "80"]
    # A tier without an address takes the next free /24 of the application's pool.
    client.update(f"appdapplications/{wp['app']['ID']}", {"addressPool": "10.10.0.0/16"})
    cache = client.create(
        f"appdapplications/{wp['app']['ID']}/appdtiers", {"name": "cache", "type": "STANDARD"}
    )
    subnet = client.get(f"subnets/{client.get('appdtiers/' + cache['ID'])['associatedObjectID']}")
    assert (subnet["name"], subnet["address"]) == ("wordpress - cache", "10.10.0.0")
    # Without a pool, an address-less tier is a policy group (containers on shared subnets join it).
    other = client.create(
        f"enterprises/{wp['ent']['ID']}/appdapplications",
        {"name": "batch", "associatedDomainID": wp["domain"]["ID"]},
    )
    worker = client.create(
        f"appdapplications/{other['ID']}/appdtiers", {"name": "worker", "type": "STANDARD"}
    )
    assert client.get(f"appdtiers/{worker['ID']}")["associatedObjectType"] == "policygroup"
    # An APPLICATION tier: flows to another application's zone.
    link = client.create(
        f"appdapplications/{other['ID']}/appdtiers",
        {"name": "blog", "type": "APPLICATION", "associatedApplicationID": wp["app"]["ID"]},
    )
    client.create(
        f"appdapplications/{other['ID']}/appdflows",
        {
            "name": "to-blog",
            "originTierID": worker["ID"],
            "destinationTierID": link["ID"],
            "applicationServiceIDs": [wp["services"]["http"]["ID"]],
        },
    )
    batch = client.get(f"appdapplications/{other['ID']}")
    (entry,) = client.list_all(
        f"egressacltemplates/{batch['assocEgressACLTemplateId']}/egressaclentrytemplates"
    )
    assert (entry["locationType"], entry["locationID"], entry["networkType"]) == (
        "ZONE",
        wp["app"]["associatedZoneID"],
        "POLICYGROUP",
    )


def test_bad_designs_are_refused_whole(client: VsdClient) -> None:
    wp = wordpress(client)
    app, tiers = wp["app"], wp["tiers"]
    count = len(generated(client, wp["domain"]["ID"]))
    other = client.create(
        f"enterprises/{wp['ent']['ID']}/appdapplications",
        {"name": "other", "associatedDomainID": wp["domain"]["ID"], "addressPool": "10.50.0.0/16"},
    )
    stray = client.create(f"appdapplications/{other['ID']}/appdtiers", {"name": "x", "type": "STANDARD"})
    # A flow between tiers of two applications.
    expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{app['ID']}/appdflows",
            {"name": "f", "originTierID": tiers["web"]["ID"], "destinationTierID": stray["ID"]},
        ),
        "destinationTierID",
    )
    # A cycle of application tiers.
    client.create(
        f"appdapplications/{app['ID']}/appdtiers",
        {"name": "o", "type": "APPLICATION", "associatedApplicationID": other["ID"]},
    )
    error = expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{other['ID']}/appdtiers",
            {"name": "back", "type": "APPLICATION", "associatedApplicationID": app["ID"]},
        ),
    )
    assert "cycle" in str(error)
    # A tier outside its application's pool; a tier overlapping another subnet.
    expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{other['ID']}/appdtiers",
            {"name": "y", "type": "STANDARD", "address": "10.60.0.0", "netmask": "255.255.255.0"},
        ),
        "address",
    )
    error = expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{app['ID']}/appdtiers",
            {"name": "dup", "type": "STANDARD", "address": "10.10.1.128", "netmask": "255.255.255.128"},
        ),
    )
    assert "overlaps" in str(error)
    # A service whose ports do not parse, or ports on ICMP.
    expect_error(
        409,
        lambda: client.create(
            f"enterprises/{wp['ent']['ID']}/appdservices",
            {"name": "bad", "protocol": "6", "destinationPort": "80-"},
        ),
        "destinationPort",
    )
    expect_error(
        409,
        lambda: client.create(
            f"enterprises/{wp['ent']['ID']}/appdservices",
            {"name": "bad", "protocol": "1", "destinationPort": "80"},
        ),
        "destinationPort",
    )
    # A domain of another enterprise.
    theirs = make_l3_subnet(client, "globex")
    expect_error(
        409,
        lambda: client.create(
            f"enterprises/{wp['ent']['ID']}/appdapplications",
            {"name": "x", "associatedDomainID": theirs["domain"]["ID"]},
        ),
        "associatedDomainID",
    )
    # Nothing half-written: the WordPress application's objects are as they were (plus the
    # APPLICATION tier's nothing: it generates no object of its own).
    assert len(generated(client, wp["domain"]["ID"])) - count == len(
        [k for k in generated(client, wp["domain"]["ID"]) if f"appd:{other['ID']}:" in k]
    )
    with pytest.raises(VsdClientError):
        client.get(f"appdapplications/{app['ID']}/appdtiers/nothing")


def test_wordpress_allows_its_flows_and_nothing_else(
    directory_server: ServedDirectory, client: VsdClient
) -> None:
    """Judged by the oracle over what hosts are told (the datapath tier probes real packets):
    even in a domain whose own policies allow everything by default, the application's
    endpoints exchange only its flows; an endpoint of another zone is one of its "clients"."""
    wp = wordpress(client)
    for direction in ("ingress", "egress"):
        client.create(
            f"domains/{wp['domain']['ID']}/{direction}acltemplates",
            {"name": f"open {direction}", "active": True, "defaultAllowIP": True},
        )
    directory = directory_server.directory
    subnets = {s["name"]: s for s in client.list_all(f"domains/{wp['domain']['ID']}/subnets")}
    placement = {
        "web1": ("wordpress - web", "h1"),
        "app1": ("wordpress - app", "h2"),
        "db1": ("wordpress - db", "h3"),
        "other1": ("s", "h1"),
    }
    for host, address in (("h1", "192.0.2.1"), ("h2", "192.0.2.2"), ("h3", "192.0.2.3")):
        register_host(directory, host, address, now_ms=1)
    ips = {}
    for name, (subnet, host) in placement.items():
        vport = client.create(
            f"subnets/{subnets[subnet]['ID']}/vports",
            {"name": name, "type": "CONTAINER", "addressSpoofing": "INHERITED"},
        )
        mac = f"02:00:00:00:00:{len(ips) + 1:02x}"
        container = client.create(
            "containers",
            {"name": name, "UUID": str(uuid.uuid4()), "interfaces": [{"MAC": mac, "VPortID": vport["ID"]}]},
        )
        ips[name] = container["interfaces"][0]["IPAddress"]
        [result] = claim_endpoints(
            directory, host, [EndpointClaim(vport["ID"], mac, True)], now_ms=2, principal=SYSTEM
        )
        assert result.ok, result.error
    views = compile_hosts(load_policy_input(directory))
    allowed = {
        (src, dst, port)
        for src in ips
        for dst in ips
        for port in (80, 8080, 3306, 22)
        if src != dst and verdict(views, Packet(src=ips[src], dst=ips[dst], dport=port)).allowed
    }
    assert allowed == {("other1", "web1", 80), ("web1", "app1", 8080), ("app1", "db1", 3306)}
    # The design's own assertions hold once deployed: each flow's "must reach", judged by
    # compliance over the same compiled policy.
    musts = "\n".join(
        f"tier:wordpress/{o} must reach tier:wordpress/{d} on service:{s}"
        for o, d, s in (("web", "app", "app-8080"), ("app", "db", "mysql"))
    )
    policies = f"enterprises/{wp['ent']['ID']}/compliancepolicies"
    checked = client.create(policies, {"name": "design", "text": musts})
    assert checked["violationCount"] == 0 and not checked.get("warnings")


def test_a_template_instantiated_many_times(client: VsdClient) -> None:
    net = make_l3_subnet(client, "acme", address="10.99.99.0")
    ent, domain = net["ent"], net["domain"]
    http = client.create(
        f"enterprises/{ent['ID']}/appdservices", {"name": "http", "protocol": "6", "destinationPort": "80"}
    )
    mysql = client.create(
        f"enterprises/{ent['ID']}/appdservices", {"name": "mysql", "protocol": "6", "destinationPort": "3306"}
    )
    template = client.create(f"enterprises/{ent['ID']}/appdapplicationtemplates", {"name": "wordpress"})
    base = f"appdapplicationtemplates/{template['ID']}"
    tiers = {
        "clients": client.create(
            f"{base}/appdtiers",
            {"name": "clients", "type": "NETWORK_MACRO", "address": "0.0.0.0", "netmask": "0.0.0.0"},
        )
    }
    for tier in ("web", "db"):
        tiers[tier] = client.create(f"{base}/appdtiers", {"name": tier, "type": "STANDARD"})
    client.create(
        f"{base}/appdflows",
        {
            "name": "in",
            "originTierID": tiers["clients"]["ID"],
            "destinationTierID": tiers["web"]["ID"],
            "applicationServiceIDs": [http["ID"]],
        },
    )
    flow = client.create(
        f"{base}/appdflows",
        {
            "name": "data",
            "originTierID": tiers["web"]["ID"],
            "destinationTierID": tiers["db"]["ID"],
            "applicationServiceIDs": [mysql["ID"]],
        },
    )
    instances = [
        client.create(
            f"enterprises/{ent['ID']}/appdapplications",
            {
                "name": f"blog-{i}",
                "associatedDomainID": domain["ID"],
                "templateID": template["ID"],
                "addressPool": f"10.{20 + i}.0.0/16",
            },
        )
        for i in range(3)
    ]
    assert client.get(base)["instances"] == 3
    for i, instance in enumerate(instances):
        subnets = client.list_all(f"zones/{instance['associatedZoneID']}/subnets")
        assert sorted((s["name"], s["address"]) for s in subnets) == [
            (f"blog-{i} - db", f"10.{20 + i}.1.0"),
            (f"blog-{i} - web", f"10.{20 + i}.0.0"),
        ]
    # A change to the template reaches every instance.
    client.update(f"appdflows/{flow['ID']}", {"applicationServiceIDs": [mysql["ID"], http["ID"]]})
    for instance in instances:
        egress = client.list_all(
            f"egressacltemplates/{instance['assocEgressACLTemplateId']}/egressaclentrytemplates"
        )
        assert sorted(e["destinationPort"] for e in egress) == ["3306", "80", "80"]
    # An instance is changed through its template only; a template with instances stays.
    expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{instances[0]['ID']}/appdtiers", {"name": "extra", "type": "STANDARD"}
        ),
    )
    expect_error(409, lambda: client.delete(base))
    for instance in instances:
        client.delete(f"appdapplications/{instance['ID']}")
    assert client.get(base)["instances"] == 0
    client.delete(base)
    assert generated(client, domain["ID"]) == {}
