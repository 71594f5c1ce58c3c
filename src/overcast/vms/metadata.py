"""A VM's profile from libvirt, the Nuage way (pure): the Nuage metadata element and the
domain's XML, read into what the agent reports.

The metadata (namespace :data:`NAMESPACE`; libvirt drops metadata without one) is the block
Nuage's own integrations wrote: ``user`` and ``enterprise`` (and optionally ``application``),
then one ``nuage_network`` per NIC naming its ``domain``, ``zone`` and subnet (``subnet``, or
Nuage's ``name``), whose ``interface`` gives the NIC's ``mac`` and optionally a fixed
``address``. Overcast also reads ``policy_group`` children of a ``nuage_network`` (by name).
Each NIC is matched to the domain's ``<interface>`` by MAC, which gives its tap
(``<target dev>``). XML is parsed with defusedxml: a definition may come from a tenant's
orchestrator, and entity tricks must not reach the agent.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

NAMESPACE = "http://www.nuagenetworks.net/2013/Vm/Metadata"


class MetadataError(ValueError):
    """The metadata cannot describe this VM (the message says why, for the agent's log)."""


@dataclass(frozen=True)
class Nic:
    mac: str  # lower case
    tap: str | None  # the host-side device libvirt made (None: not running yet)
    domain: str
    zone: str
    subnet: str
    address: str | None  # a fixed address asked for
    policy_groups: tuple[str, ...]


@dataclass(frozen=True)
class VmProfile:
    uuid: str
    name: str
    enterprise: str
    user: str
    application: str | None
    nics: tuple[Nic, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _named(element: Element, name: str) -> str | None:
    found = _children(element, name)
    return (found[0].get("name") or None) if found else None


def _mac(text: str | None, where: str) -> str:
    value = (text or "").strip().lower()
    parts = value.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise MetadataError(f"{where}: {text!r} is not a MAC address")
    return value


def _parse(text: str, what: str) -> Element:
    try:
        root: Element = ElementTree.fromstring(text)
    except Exception as exc:  # defusedxml's refusals and the parser's errors alike
        raise MetadataError(f"the {what} is not well-formed XML: {exc}") from None
    return root


def taps(domain_xml: str) -> dict[str, str | None]:
    """The domain's interfaces: MAC -> its tap (``<target dev>``; None until it runs)."""
    root = _parse(domain_xml, "domain XML")
    out: dict[str, str | None] = {}
    for interface in root.iterfind("./devices/interface"):
        mac = interface.find("mac")
        if mac is None:
            continue
        target = interface.find("target")
        out[_mac(mac.get("address"), "a domain interface")] = (
            target.get("dev") if target is not None else None
        )
    return out


def profile(domain_xml: str, metadata_xml: str) -> VmProfile:
    """The VM as the agent reports it; :class:`MetadataError` when the metadata is incomplete
    or names NICs the domain does not have."""
    domain = _parse(domain_xml, "domain XML")
    uuid, name = domain.findtext("uuid"), domain.findtext("name")
    if not uuid or not name:
        raise MetadataError("the domain XML has no uuid or name")
    nuage = _parse(metadata_xml, "Nuage metadata")
    if _local(nuage.tag) != "nuage":
        raise MetadataError(f"the metadata element is <{_local(nuage.tag)}>, not <nuage>")
    enterprise, user = _named(nuage, "enterprise"), _named(nuage, "user")
    if not enterprise or not user:
        raise MetadataError("the Nuage metadata names no enterprise or no user")
    devices = taps(domain_xml)
    nics: list[Nic] = []
    for index, network in enumerate(_children(nuage, "nuage_network")):
        where = f"nuage_network {index + 1}"
        subnet = network.get("subnet") or network.get("name")
        domain_name, zone = network.get("domain"), network.get("zone")
        if not (subnet and domain_name and zone):
            raise MetadataError(f"{where} needs a domain, a zone and a subnet (or name)")
        interfaces = _children(network, "interface")
        if len(interfaces) != 1:
            raise MetadataError(f"{where} needs exactly one <interface mac=...>")
        mac = _mac(interfaces[0].get("mac"), where)
        if mac not in devices:
            raise MetadataError(f"{where}: the domain has no interface with MAC {mac}")
        address = interfaces[0].get("address")
        if address:
            try:
                address = str(ipaddress.IPv4Address(address))
            except ValueError:
                raise MetadataError(f"{where}: {address!r} is not an IPv4 address") from None
        groups = tuple(g.get("name") or "" for g in _children(network, "policy_group"))
        if not all(groups):
            raise MetadataError(f"{where}: a policy_group without a name")
        nics.append(Nic(mac, devices[mac], domain_name, zone, subnet, address or None, groups))
    if not nics:
        raise MetadataError("the Nuage metadata has no nuage_network")
    macs = [n.mac for n in nics]
    if len(set(macs)) != len(macs):
        raise MetadataError("two nuage_networks name the same MAC")
    return VmProfile(uuid, name, enterprise, user, _named(nuage, "application"), tuple(nics))
