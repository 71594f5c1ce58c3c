"""The application designer's pure parts: compile rules, address carving, cycles, the YAML
document and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.appd.compile import (
    DROP_PRIORITY,
    Design,
    DesignError,
    Ref,
    application_cycle,
    carve,
    compile_application,
    owner_of,
)
from overcast.appd.document import DocumentError, parse_document

ROOT = Path(__file__).resolve().parents[2]
HEAD = "enterprise: a\ndomain: d\napplication: x\n"


def design(tiers: list[dict[str, Any]], flows: list[dict[str, Any]], **extra: Any) -> Design:
    services = {
        "http": {
            "ID": "http",
            "name": "http",
            "protocol": "6",
            "destinationPort": "80",
            "direction": "REFLEXIVE",
        },
        "syslog": {
            "ID": "syslog",
            "name": "syslog",
            "protocol": "17",
            "destinationPort": "514",
            "direction": "UNIDIRECTIONAL",
        },
    }
    return Design(
        application={"ID": "A", "name": "shop"},
        domain={"ID": "D", "parentID": "E"},
        tiers=tiers,
        flows=flows,
        policies=extra.get("policies", {}),
        services=services,
        networks=extra.get("networks", {}),
        zones=extra.get("zones", {}),
    )


def by_key(desired: list[Any]) -> dict[str, Any]:
    return {d.key.split(":", 2)[2]: d for d in desired}


def test_each_tier_kind_and_flow_side() -> None:
    tiers = [
        {"ID": "w", "name": "web", "type": "STANDARD"},
        {"ID": "p", "name": "workers", "type": "STANDARD"},
        {"ID": "m", "name": "net", "type": "NETWORK_MACRO", "address": "0.0.0.0", "netmask": "0.0.0.0"},
        {"ID": "o", "name": "billing", "type": "APPLICATION", "associatedApplicationID": "B"},
    ]
    flows = [
        {
            "ID": "f1",
            "name": "in",
            "originTierID": "m",
            "destinationTierID": "w",
            "applicationServiceIDs": ["http"],
        },
        {
            "ID": "f2",
            "name": "logs",
            "originTierID": "w",
            "destinationTierID": "p",
            "applicationServiceIDs": ["syslog"],
        },
        {
            "ID": "f3",
            "name": "bill",
            "originTierID": "w",
            "destinationTierID": "o",
            "applicationServiceIDs": ["http"],
        },
    ]
    out = by_key(
        compile_application(
            design(
                tiers, flows, networks={"w": ("10.0.1.0", "255.255.255.0", "10.0.1.1")}, zones={"B": "zone-b"}
            )
        )
    )
    assert out["zone"].kind == "zone" and out["zone"].parent == "D"
    assert out["tier:w"].kind == "subnet" and out["tier:w"].parent == Ref("appd:A:zone")
    assert out["tier:p"].kind == "policygroup" and out["tier:m"].kind == "enterprisenetwork"
    assert "tier:o" not in out  # another application's zone: nothing of its own
    # Outside → web: only the egress side (the macro has no location).
    assert "flow:f1:svc:http:ingress" not in out
    egress = out["flow:f1:svc:http:egress"].data
    assert (egress["locationType"], egress["locationID"], egress["networkType"], egress["networkID"]) == (
        "SUBNET",
        Ref("appd:A:tier:w"),
        "ENTERPRISE_NETWORK",
        Ref("appd:A:tier:m"),
    )
    assert egress["priority"] == 150 and egress["stateful"] and egress["destinationPort"] == "80"
    # Unidirectional: not stateful; both sides inside the domain: both entries.
    logs = out["flow:f2:svc:syslog:ingress"].data
    assert (logs["locationType"], logs["networkType"], logs["stateful"], logs["protocol"]) == (
        "SUBNET",
        "POLICYGROUP",
        False,
        "17",
    )
    # To another application: its zone, on both sides.
    bill = out["flow:f3:svc:http:egress"].data
    assert (bill["locationType"], bill["locationID"], bill["priority"]) == ("ZONE", "zone-b", 350)
    # The closing drops: BOTTOM templates, the zone against anything.
    assert out["egress-drop"].data["priorityType"] == "BOTTOM"
    drop = out["drop:egress"].data
    assert (drop["action"], drop["priority"], drop["locationID"], drop["networkType"]) == (
        "DROP",
        DROP_PRIORITY,
        Ref("appd:A:zone"),
        "ANY",
    )


def test_parents_come_first_and_compile_is_deterministic() -> None:
    tiers = [{"ID": "w", "name": "web", "type": "STANDARD"}, {"ID": "d", "name": "db", "type": "STANDARD"}]
    flows = [{"ID": "f", "name": "f", "originTierID": "w", "destinationTierID": "d"}]
    policies = {
        "f": [{"ID": "p1", "associatedApplicationServiceID": "http", "action": "DROP", "priority": 3}]
    }
    first = compile_application(design(tiers, flows, policies=policies))
    assert first == compile_application(design(tiers, flows, policies=policies))
    seen: set[str] = set()
    for item in first:
        parent = item.parent
        assert not isinstance(parent, Ref) or parent.key in seen, item.key
        seen.add(item.key)
    entry = by_key(first)["flow:f:fsp:p1:egress"].data
    assert (entry["action"], entry["priority"]) == ("DROP", 103)
    assert all(owner_of(d.key) == "A" for d in first) and owner_of("mine") is None


def test_designs_that_cannot_deploy() -> None:
    macro = {"ID": "m", "name": "net", "type": "NETWORK_MACRO", "address": "0.0.0.0", "netmask": "0.0.0.0"}
    other = {"ID": "n", "name": "net2", "type": "NETWORK_MACRO", "address": "1.0.0.0", "netmask": "255.0.0.0"}
    two_macros = [
        {
            "ID": "f",
            "name": "f",
            "originTierID": "m",
            "destinationTierID": "n",
            "applicationServiceIDs": ["http"],
        }
    ]
    with pytest.raises(DesignError, match="two network macros"):
        compile_application(design([macro, other], two_macros))
    app_tier = {"ID": "o", "name": "o", "type": "APPLICATION", "associatedApplicationID": "B"}
    flow = [
        {
            "ID": "f",
            "name": "f",
            "originTierID": "m",
            "destinationTierID": "o",
            "applicationServiceIDs": ["http"],
        }
    ]
    with pytest.raises(DesignError, match="not deployed"):
        compile_application(design([macro, app_tier], flow))


def test_carve_and_cycles() -> None:
    assert carve("10.0.0.0/16", ["10.0.0.0/24", "10.0.2.0/23"], 2) == ["10.0.1.0/24", "10.0.4.0/24"]
    with pytest.raises(DesignError):
        carve("10.0.0.0/23", ["10.0.0.0/24"], 2)
    assert application_cycle("a", {"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert application_cycle("a", {"a": ["b"], "b": ["c"], "c": ["b"]}) is None


def test_the_example_document_parses() -> None:
    doc = parse_document((ROOT / "examples" / "wordpress.yaml").read_text())
    assert (doc.enterprise, doc.domain, doc.application, doc.address_pool) == (
        "acme",
        "shop",
        "wordpress",
        "10.20.0.0/16",
    )
    assert [(s.name, s.protocol, s.destination_port) for s in doc.services] == [
        ("http", "6", "80"),
        ("php", "6", "8080"),
        ("mysql", "6", "3306"),
    ]
    assert [(t.name, t.type, t.address) for t in doc.tiers] == [
        ("clients", "NETWORK_MACRO", "0.0.0.0"),
        ("web", "STANDARD", "10.20.1.0"),
        ("app", "STANDARD", None),
        ("db", "STANDARD", None),
    ]
    assert [(f.name, f.origin, f.destination, f.services) for f in doc.flows][0] == (
        "clients-to-web",
        "clients",
        "web",
        ("http",),
    )


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        (
            "enterprise: a\ndomain: d\napplication: x\ntiers:\n  web: {network: 10.0.0.1/24}\n",
            "line 5",
            "IPv4 network",
        ),
        (
            "enterprise: a\ndomain: d\napplication: x\nservices:\n  s: tcp/80-\ntiers: {w: {}}\n",
            "line 5",
            "port",
        ),
        (
            "enterprise: a\ndomain: d\napplication: x\nservices:\n  s: gre/1\ntiers: {w: {}}\n",
            "line 5",
            "protocol",
        ),
        (
            HEAD + "tiers: {w: {}}\nflows:\n  - {from: w, to: v, services: []}\n",
            "line 6",
            "no tier named 'v'",
        ),
        (
            HEAD + "tiers: {w: {}, v: {}}\nflows:\n  - {from: w, to: v, services: [s]}\n",
            "line 6",
            "no service named 's'",
        ),
        (
            HEAD + "tiers:\n  w: {network: 10.0.0.0/24, macro: 0.0.0.0/0}\n",
            "line 5",
            "one of network",
        ),
        ("enterprise: a\ndomain: [\n", "line 3", ""),
        ("domain: d\napplication: x\ntiers: {w: {}}\n", "line 1", "'enterprise' is missing"),
    ],
)
def test_document_errors_name_the_line(text: str, where: str, what: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse_document(text)
    assert str(info.value).startswith(where) and what in str(info.value), str(info.value)
