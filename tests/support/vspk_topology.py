"""Shared vspk helpers: a session on a served directory, and the scenario's base topology."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from bambou.exceptions import BambouHTTPError
from vspk import v6 as vsdk

from overcast.testing.directory import ServedDirectory


def session_for(
    served: ServedDirectory, user: str = "csproot", password: str = "csproot", enterprise: str = "csp"
) -> vsdk.NUVSDSession:
    session = vsdk.NUVSDSession(username=user, password=password, enterprise=enterprise, api_url=served.url)
    session.start()
    return session


def build_domain(me: vsdk.NUMe, name: str = "acme") -> dict:
    ent = vsdk.NUEnterprise(name=name, description="test enterprise")
    me.create_child(ent)
    template = vsdk.NUDomainTemplate(name="dt-web")
    ent.create_child(template)
    domain = vsdk.NUDomain(name="dom-web")
    ent.instantiate_child(domain, template)
    zone = vsdk.NUZone(name="zone-a")
    domain.create_child(zone)
    sub_a = vsdk.NUSubnet(name="sub-a", address="10.10.1.0", netmask="255.255.255.0", gateway="10.10.1.1")
    zone.create_child(sub_a)
    sub_b = vsdk.NUSubnet(name="sub-b", address="10.10.2.0", netmask="255.255.255.0")
    zone.create_child(sub_b)
    return dict(ent=ent, template=template, domain=domain, zone=zone, sub_a=sub_a, sub_b=sub_b)


class Shop:
    """A three-tier tenant built with vspk: web on h1 and h2, db on h3; policy web -> db:3306."""

    def __init__(self, served: ServedDirectory, name: str = "shop") -> None:
        self.me = session_for(served).user
        objs = build_domain(self.me, name)
        self.domain, self.web_net, self.db_net = objs["domain"], objs["sub_a"], objs["sub_b"]
        self.web, self.db = vsdk.NUPolicyGroup(name="web"), vsdk.NUPolicyGroup(name="db")
        self.domain.create_child(self.web)
        self.domain.create_child(self.db)
        self.vports: dict[str, Any] = {}
        self.macs: dict[str, str] = {}
        self.ips: dict[str, str] = {}
        for name_, subnet, group in (("web1", self.web_net, self.web), ("web2", self.web_net, self.web)):
            self.endpoint(name_, subnet, group)
        self.endpoint("db1", self.db_net, self.db)
        ingress = vsdk.NUIngressACLTemplate(name="out", active=True, priority=1, priority_type="NONE")
        egress = vsdk.NUEgressACLTemplate(name="in", active=True, priority=1, priority_type="NONE")
        self.domain.create_child(ingress)
        self.domain.create_child(egress)
        self.ingress, self.egress = ingress, egress
        self.rule(ingress, vsdk.NUIngressACLEntryTemplate, self.web, self.db, "3306")
        self.rule(egress, vsdk.NUEgressACLEntryTemplate, self.db, self.web, "3306")

    def endpoint(self, name: str, subnet: Any, group: Any) -> None:
        vport = vsdk.NUVPort(name=name, type="CONTAINER", address_spoofing="INHERITED")
        subnet.create_child(vport)
        vport.assign([group], vsdk.NUPolicyGroup)
        mac = f"02:00:00:{len(self.vports) + 1:02x}:00:01"
        container = vsdk.NUContainer(
            name=name, uuid=str(uuid.uuid4()), interfaces=[{"MAC": mac, "VPortID": vport.id}]
        )
        self.me.create_child(container)
        self.vports[name], self.macs[name] = vport, mac
        self.ips[name] = container.interfaces[0]["IPAddress"]

    def rule(self, acl: Any, entry_cls: Any, location: Any, network: Any, port: str) -> Any:
        entry = entry_cls(
            action="FORWARD",
            location_type="POLICYGROUP",
            location_id=location.id,
            network_type="POLICYGROUP",
            network_id=network.id,
            protocol="6",
            destination_port=port,
            source_port="*",
            priority=10 + int(port) % 1000,
            stateful=True,
            ether_type="0x0800",
        )
        acl.create_child(entry)
        return entry


def refused(call: Any) -> tuple[int, str]:
    """A vspk call that must fail: its HTTP status and the error's text."""
    with pytest.raises(BambouHTTPError) as info:
        call()
    return info.value.connection.response.status_code, str(info.value)
