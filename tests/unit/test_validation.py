"""Attribute coercion and the network formats the directory validates."""

from __future__ import annotations

import ipaddress

import pytest

from overcast.directory import ipam, validation
from overcast.directory.errors import VsdError
from overcast.directory.schema import REGISTRY, Attr


def refused(call, prop: str | None = None) -> VsdError:  # type: ignore[no-untyped-def]
    with pytest.raises(VsdError) as info:
        call()
    assert info.value.status in (400, 409)
    if prop is not None:
        assert info.value.property == prop
    return info.value


def test_coercion_is_lenient_like_vspk() -> None:
    assert validation.coerce(Attr("n", "int", None), "24") == 24
    assert validation.coerce(Attr("n", "int", None), 3.0) == 3
    assert validation.coerce(Attr("b", "bool", None), "true") is True
    assert validation.coerce(Attr("s", "str", None), 6) == "6"
    for attr, value in [
        (Attr("n", "int", None), "soon"),
        (Attr("n", "int", None), True),
        (Attr("n", "int", None), 1.5),
        (Attr("n", "int", None), 2**63),  # beyond a Java long
        (Attr("b", "bool", None), "yes"),
        (Attr("s", "str", None), {"a": 1}),
        (Attr("l", "list", None), "x"),
        (Attr("e", "str", ("A", "B")), "C"),
    ]:
        refused(lambda a=attr, v=value: validation.coerce(a, v), attr.name)


def test_clean_body_drops_nulls_readonly_identity_and_unknown() -> None:
    subnet = REGISTRY.entity("subnet")
    body = {"name": "s", "vnId": 7, "ID": "x", "description": None, "bogus": 1, "templateID": "t"}
    assert validation.clean_body(subnet, body, creating=True) == {"name": "s", "templateID": "t"}
    assert validation.clean_body(subnet, body, creating=False) == {"name": "s"}
    refused(lambda: validation.clean_body(subnet, ["x"], creating=True))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "netmask", "prop"),
    [
        ("10.0.0.0", "255.0.255.0", "netmask"),
        ("10.0.0.0", "255.255.255.256", "netmask"),
        ("10.0.0.1", "255.255.255.0", "address"),
        ("10.0.0", "255.255.255.0", "address"),
    ],
)
def test_bad_networks(address: str, netmask: str, prop: str) -> None:
    refused(lambda: validation.ipv4_network(address, netmask), prop)


def test_networks_and_gateways() -> None:
    net = validation.ipv4_network("10.1.2.0", "255.255.255.0")
    assert net == ipaddress.IPv4Network("10.1.2.0/24")
    assert validation.first_host(net) == "10.1.2.1"
    assert validation.gateway_in(net, "10.1.2.254") == "10.1.2.254"
    for gw in ("10.1.2.0", "10.1.2.255", "10.1.3.1", "nope"):
        refused(lambda g=gw: validation.gateway_in(net, g), "gateway")


def test_acl_field_syntax() -> None:
    assert validation.port_spec("p", " 80 ") == "80"
    assert validation.port_spec("p", "1000-2000") == "1000-2000"
    assert validation.port_spec("p", "*") == "*"
    for bad in ("0-", "2000-1000", "65536", "http", "1,2"):
        refused(lambda b=bad: validation.port_spec("p", b), "p")
    assert validation.protocol("any") == "ANY" and validation.protocol("06") == "6"
    refused(lambda: validation.protocol("256"), "protocol")
    assert validation.ether_type("0x800") == "0x0800" and validation.ether_type("*") == "*"
    refused(lambda: validation.ether_type("0x0001"), "etherType")
    assert validation.dscp("63") == "63"
    refused(lambda: validation.dscp("64"), "DSCP")
    assert validation.mac("m", "02:AA:bb:00:00:01") == "02:aa:bb:00:00:01"
    refused(lambda: validation.mac("m", "01:00:5e:00:00:01"), "m")  # multicast
    refused(lambda: validation.mac("m", "02:00:00:00:00"), "m")


def test_address_allocation_order() -> None:
    net = ipaddress.IPv4Network("10.0.0.0/29")  # hosts .1-.6
    gw = int(ipaddress.IPv4Address("10.0.0.1"))
    assert ipam.to_text(ipam.pick_free(net, {gw}, None, list)) == "10.0.0.2"  # type: ignore[arg-type]
    assert ipam.to_text(ipam.pick_free(net, {gw}, gw + 3, lambda: [gw + 1, gw + 3])) == "10.0.0.5"  # type: ignore[arg-type]
    # Past the end, holes are reused from the bottom.
    used = [gw + i for i in (1, 3, 4, 5)]
    assert ipam.to_text(ipam.pick_free(net, {gw}, gw + 5, lambda: used)) == "10.0.0.3"  # type: ignore[arg-type]
    assert ipam.pick_free(net, {gw}, gw + 5, lambda: [gw + i for i in range(1, 6)]) is None
    assert ipam.check_requested(net, "10.0.0.6", {gw}) == gw + 5
    for bad in ("10.0.0.0", "10.0.0.7", "10.0.0.1", "10.0.1.2"):
        refused(lambda b=bad: ipam.check_requested(net, b, {gw}), "IPAddress")


def test_registry_relations_are_consistent() -> None:
    for (parent, resource), relation in REGISTRY.relations.items():
        assert REGISTRY.by_resource[resource].rest_name == relation.child
        assert parent == "me" or parent in REGISTRY.entities
    # Member relations are served in both directions.
    assert REGISTRY.relations[("policygroup", "vports")].kind == "member"
    assert REGISTRY.relations[("vport", "policygroups")].kind == "member"
    # Every owner is a served entity or the root.
    for entity in REGISTRY.entities.values():
        assert all(o == "me" or o in REGISTRY.entities for o in entity.owners)
        assert set(entity.required) <= set(entity.attrs)
