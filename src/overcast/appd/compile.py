"""An application's design → the ordinary domain objects that implement it (pure).

VSD 3.x's application designer rules (shared/reference/app-designer.md §1.5, §3.2), with two
changes said in docs/architecture.md ("Application designer"):

* every application gets its own zone; a STANDARD tier is a subnet of that zone (or, with no
  address and no address pool, a policy group of the domain); a NETWORK_MACRO tier is an
  enterprise network (or the macro it names); an APPLICATION tier is the other application's
  zone; APPLICATION_EXTENDED_NETWORK is the whole domain;
* a flow O → T on service S is an **egress** entry at T (location T, network O) and an
  **ingress** entry at O (location O, network T), each where that side is inside the domain,
  stateful when S is REFLEXIVE; the closing "Drop all traffic" entries (both directions, the
  application's zone against anything) sit in templates of ``priorityType`` BOTTOM, so that no
  application's drop can shadow another application's allow whatever the templates' order.

Generated objects are keyed by ``externalID`` (``appd:<application ID>:<role>``): the
reconciler (:mod:`overcast.directory.behaviours.appd`) creates, updates and deletes by key, so
deploying twice changes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: An entry's priority: 100 per flow (in creation order) plus its security policy's (0-99).
FLOW_STEP = 100
DROP_PRIORITY = 1_000_000_000
PREFIX = "appd:"


class DesignError(ValueError):
    """An application that cannot be deployed; ``prop`` names the attribute at fault."""

    def __init__(self, message: str, prop: str = "") -> None:
        super().__init__(message)
        self.prop = prop


@dataclass(frozen=True)
class Ref:
    """The ID of another generated object (by key), resolved when it exists."""

    key: str


@dataclass(frozen=True)
class Desired:
    """One object to exist: its kind, parent (an ID or a :class:`Ref`) and attributes."""

    key: str
    kind: str
    parent: str | Ref
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Side:
    """How a tier appears in an ACL entry: its type and ID (or Ref), or None for "nothing
    here" (a macro cannot be a location)."""

    location: tuple[str, str | Ref | None] | None
    network: tuple[str, str | Ref | None]


@dataclass(frozen=True)
class Design:
    """Everything an application's deployment depends on, as plain data (objects' JSON)."""

    application: Mapping[str, Any]
    domain: Mapping[str, Any]
    tiers: Sequence[Mapping[str, Any]]  # in creation order
    flows: Sequence[Mapping[str, Any]]  # in creation order
    policies: Mapping[str, Sequence[Mapping[str, Any]]]  # flow ID -> its security policies
    services: Mapping[str, Mapping[str, Any]]  # ID -> service
    #: tier ID -> (address, netmask, gateway) for STANDARD tiers that are subnets
    networks: Mapping[str, tuple[str, str, str]]
    #: application ID -> its zone's ID (for APPLICATION tiers)
    zones: Mapping[str, str]


def key(application_id: str, role: str) -> str:
    return f"{PREFIX}{application_id}:{role}"


def owner_of(external_id: str | None) -> str | None:
    """The application ID a generated object's ``externalID`` names (None: not generated)."""
    if not external_id or not external_id.startswith(PREFIX):
        return None
    return external_id[len(PREFIX) :].split(":", 1)[0]


def tier_name(application: Mapping[str, Any], tier: Mapping[str, Any]) -> str:
    return f"{application['name']} - {tier['name']}"


def _side(design: Design, tier: Mapping[str, Any]) -> Side:
    app_id = design.application["ID"]
    own = Ref(key(app_id, f"tier:{tier['ID']}"))
    kind = tier["type"]
    if kind == "STANDARD":
        kind_name = "SUBNET" if tier["ID"] in design.networks else "POLICYGROUP"
        return Side((kind_name, own), (kind_name, own))
    if kind == "NETWORK_MACRO":
        macro = tier.get("associatedNetworkMacroID") or own
        return Side(None, ("ENTERPRISE_NETWORK", macro))
    if kind == "APPLICATION":
        zone = design.zones.get(tier.get("associatedApplicationID") or "")
        if zone is None:
            raise DesignError(
                f"Tier '{tier['name']}': the application it names is not deployed.", "associatedApplicationID"
            )
        return Side(("ZONE", zone), ("ZONE", zone))
    return Side(("ANY", None), ("ENDPOINT_DOMAIN", None))  # APPLICATION_EXTENDED_NETWORK


def _services_of(design: Design, flow: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str, int]]:
    """(role, service, action, priority 0-99) per service of the flow: its security policies,
    then its ``applicationServiceIDs`` (FORWARD, in order)."""
    out = []
    for policy in design.policies.get(flow["ID"], []):
        service = design.services.get(policy.get("associatedApplicationServiceID") or "")
        if service is None:
            raise DesignError(
                f"Flow '{flow['name']}': a security policy names no known service.",
                "associatedApplicationServiceID",
            )
        out.append(
            (f"fsp:{policy['ID']}", service, policy.get("action") or "FORWARD", policy.get("priority") or 0)
        )
    for index, service_id in enumerate(flow.get("applicationServiceIDs") or []):
        service = design.services.get(service_id)
        if service is None:
            raise DesignError(
                f"Flow '{flow['name']}': service {service_id} does not exist.", "applicationServiceIDs"
            )
        out.append((f"svc:{service_id}", service, "FORWARD", 50 + index))
    for _, _, _, priority in out:
        if not 0 <= priority < FLOW_STEP:
            raise DesignError(f"Flow '{flow['name']}': a security policy's priority is 0-99.", "priority")
    return out


def _entry(
    description: str,
    priority: int,
    action: str,
    service: Mapping[str, Any] | None,
    location: tuple[str, str | Ref | None],
    network: tuple[str, str | Ref | None],
    external_id: str,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "description": description,
        "priority": priority,
        "action": action,
        "etherType": "0x0800",
        "DSCP": "*",
        "locationType": location[0],
        "locationID": location[1],
        "networkType": network[0],
        "networkID": network[1],
        "externalID": external_id,
    }
    if service is None:
        data.update(protocol="ANY", stateful=False)
    else:
        data.update(
            etherType=service.get("etherType") or "0x0800",
            DSCP=service.get("DSCP") or "*",
            protocol=service.get("protocol") or "ANY",
            stateful=service.get("direction", "REFLEXIVE") == "REFLEXIVE",
        )
        if data["protocol"] in ("6", "17"):
            data.update(
                sourcePort=service.get("sourcePort") or "*",
                destinationPort=service.get("destinationPort") or "*",
            )
    return data


def compile_application(design: Design) -> list[Desired]:
    """The objects that deploy the application, parents before children. Raises
    :class:`DesignError` for a design that cannot be deployed."""
    app = design.application
    app_id, name = app["ID"], app["name"]
    domain_id = design.domain["ID"]
    enterprise_id = design.domain["parentID"]
    zone = Ref(key(app_id, "zone"))
    out = [
        Desired(
            zone.key,
            "zone",
            domain_id,
            {"name": name, "description": f"application {name}", "externalID": zone.key},
        )
    ]
    tiers = {t["ID"]: t for t in design.tiers}
    for tier in design.tiers:
        role = key(app_id, f"tier:{tier['ID']}")
        label = tier_name(app, tier)
        if tier["type"] == "STANDARD" and tier["ID"] in design.networks:
            address, netmask, gateway = design.networks[tier["ID"]]
            out.append(
                Desired(
                    role,
                    "subnet",
                    zone,
                    {
                        "name": label,
                        "address": address,
                        "netmask": netmask,
                        "gateway": gateway,
                        "externalID": role,
                    },
                )
            )
        elif tier["type"] == "STANDARD":
            out.append(Desired(role, "policygroup", domain_id, {"name": label, "externalID": role}))
        elif tier["type"] == "NETWORK_MACRO" and not tier.get("associatedNetworkMacroID"):
            if not (tier.get("address") and tier.get("netmask")):
                raise DesignError(
                    f"Tier '{tier['name']}': a network macro tier needs address and netmask.", "address"
                )
            out.append(
                Desired(
                    role,
                    "enterprisenetwork",
                    enterprise_id,
                    {
                        "name": label,
                        "address": tier["address"],
                        "netmask": tier["netmask"],
                        "externalID": role,
                    },
                )
            )
    templates = {}
    for direction, bracket, label in (
        ("ingress", "NONE", f"Default Ingress Policy for app {name}"),
        ("egress", "NONE", f"Default Egress Policy for app {name}"),
        ("ingress-drop", "BOTTOM", f"Drop all traffic: {name} (ingress)"),
        ("egress-drop", "BOTTOM", f"Drop all traffic: {name} (egress)"),
    ):
        kind = f"{direction.split('-')[0]}acltemplate"
        templates[direction] = Ref(key(app_id, direction))
        out.append(
            Desired(
                templates[direction].key,
                kind,
                domain_id,
                {
                    "name": label,
                    "active": True,
                    "priorityType": bracket,
                    "defaultAllowIP": False,
                    "defaultAllowNonIP": False,
                    "externalID": templates[direction].key,
                },
            )
        )
    for position, flow in enumerate(design.flows, start=1):
        origin, destination = tiers.get(flow["originTierID"]), tiers.get(flow["destinationTierID"])
        if origin is None or destination is None:
            raise DesignError(
                f"Flow '{flow['name']}': both tiers must be tiers of this application.",
                "originTierID" if origin is None else "destinationTierID",
            )
        source, target = _side(design, origin), _side(design, destination)
        if source.location is None and target.location is None:
            raise DesignError(
                f"Flow '{flow['name']}' joins two network macros: nothing of the domain is in it.",
                "destinationTierID",
            )
        for role, service, action, priority in _services_of(design, flow):
            text = f"{name} - {flow['name']} - {service['name']}"
            entry_priority = FLOW_STEP * position + priority
            if target.location is not None:
                entry_key = key(app_id, f"flow:{flow['ID']}:{role}:egress")
                out.append(
                    Desired(
                        entry_key,
                        "egressaclentrytemplate",
                        templates["egress"],
                        _entry(
                            text, entry_priority, action, service, target.location, source.network, entry_key
                        ),
                    )
                )
            if source.location is not None:
                entry_key = key(app_id, f"flow:{flow['ID']}:{role}:ingress")
                out.append(
                    Desired(
                        entry_key,
                        "ingressaclentrytemplate",
                        templates["ingress"],
                        _entry(
                            text, entry_priority, action, service, source.location, target.network, entry_key
                        ),
                    )
                )
    for direction in ("ingress", "egress"):
        entry_key = key(app_id, f"drop:{direction}")
        out.append(
            Desired(
                entry_key,
                f"{direction}aclentrytemplate",
                templates[f"{direction}-drop"],
                _entry(
                    f"Drop all traffic: {name}",
                    DROP_PRIORITY,
                    "DROP",
                    None,
                    ("ZONE", zone),
                    ("ANY", None),
                    entry_key,
                ),
            )
        )
    return out


def carve(pool: str, taken: Iterable[str], count: int, prefix_length: int = 24) -> list[str]:
    """The first ``count`` networks of ``prefix_length`` in ``pool`` that overlap nothing in
    ``taken`` (CIDRs). Raises :class:`DesignError` when the pool runs out."""
    network = ipaddress.IPv4Network(pool, strict=False)
    if network.prefixlen > prefix_length:
        prefix_length = network.prefixlen
    used = [ipaddress.IPv4Network(t, strict=False) for t in taken]
    found: list[str] = []
    for candidate in network.subnets(new_prefix=prefix_length):
        if len(found) == count:
            break
        if not any(candidate.overlaps(u) for u in used):
            found.append(str(candidate))
            used.append(candidate)
    if len(found) < count:
        raise DesignError(f"The address pool {pool} has no free /{prefix_length} left.", "addressPool")
    return found


def application_cycle(start: str, references: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A chain of APPLICATION tiers leading from application ``start`` back to it (the apps'
    IDs), or None. ``references``: application ID -> the applications its tiers name."""
    path: list[str] = []

    def walk(node: str, seen: frozenset[str]) -> list[str] | None:
        for nxt in references.get(node, ()):
            if nxt == start:
                return [*path, node, nxt]
            if nxt not in seen:
                path.append(node)
                found = walk(nxt, seen | {nxt})
                path.pop()
                if found:
                    return found
        return None

    return walk(start, frozenset({start}))
