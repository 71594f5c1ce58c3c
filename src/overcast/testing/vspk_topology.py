"""Shared vspk helpers: a session on a served directory, and the scenario's base topology."""

from __future__ import annotations

from vspk import v6 as vsdk

from .directory import ServedDirectory


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
