"""What controllers write into the directory: hosts (``vrs``) and endpoints of their runtimes.

Part of the directory's interface for controllers (:mod:`.controller_interface`).

The controller records, as the system principal, that a host is up or down. Everything a host
asks for its runtimes — an endpoint created, removed, claimed — acts with the rights of the
directory user whose credentials the host's agent was given (``principal``): the directory's
own access checks decide, and what that user may not see is answered as missing. On top, a
host acts only on endpoints it runs or created (``HOST_MARK``). These writes go through the
directory's own transactions, so they land in the change log like any other change and the
policy engine learns placement from there (one source of truth for every controller replica).

Blocking (SQL): the controller calls these from a worker thread.
"""

from __future__ import annotations

import ipaddress
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import VsdError
from .objects import Obj
from .principals import Principal, visible_to
from .schema import REGISTRY
from .service import Directory, Operations


@dataclass(frozen=True)
class EndpointClaim:
    """An agent's report that an endpoint is up (or down) on its host."""

    vport_id: str
    mac: str
    up: bool


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    error: str = ""


#: A container's ``externalID`` when a host created it for a runtime (VSD's attribute for "the
#: integration that owns this object"): that host may answer for it and remove it.
HOST_MARK = "overcast-host:"


def _vrs(ops: Operations, host_id: str) -> Obj | None:
    found = ops.tx.find("vrs", "name", host_id)
    return found[0] if found else None


class TooManyHosts(Exception):
    """The directory records as many hosts as the controller allows (``--max-hosts``)."""


def register_host(
    directory: Directory, host_id: str, address: str, now_ms: int, max_hosts: int | None = None
) -> str:
    """Record the host as UP with its underlay address; return its vrs ID. A host not yet
    recorded is refused with :class:`TooManyHosts` when ``max_hosts`` are already."""

    def work(ops: Operations) -> str:
        vrs = _vrs(ops, host_id)
        if vrs is None and max_hosts is not None and ops.tx.count_kind("vrs") >= max_hosts:
            raise TooManyHosts(f"the directory already records {max_hosts} hosts (--max-hosts)")
        if vrs is None:
            vrs = ops.create_internal(
                None,
                "vrs",
                {"name": host_id, "address": address, "status": "UP", "lastStateChange": now_ms},
            )
            vrs.data["lastEventTimestamp"] = now_ms
            ops.touch(vrs)
            return vrs.id
        if vrs.data.get("address") != address or vrs.data.get("status") != "UP":
            vrs.data.update(address=address, status="UP", lastStateChange=now_ms, lastEventTimestamp=now_ms)
            ops.touch(vrs)
        return vrs.id

    return directory.write_as_system(work)


def record_gateway(
    directory: Directory, name: str, router_id: str, sessions: dict[str, str], *, refresh_after_ms: int
) -> str:
    """Record a gateway (created the first time) with its BGP sessions (peer address -> state;
    none: its speaker does not answer): ``gatewayConnected`` while one is established; return
    its ID. Writes on a change, or when the record is ``refresh_after_ms`` old (the heartbeat
    that tells a live gateway from a killed one: :mod:`overcast.gateway.heartbeat`)."""
    peer = "; ".join(f"{address} {state}" for address, state in sorted(sessions.items()))
    peer = peer or "the BGP speaker is not running"
    fields = {"systemID": router_id, "peer": peer, "gatewayConnected": "established" in sessions.values()}

    def work(ops: Operations) -> str:
        found = ops.tx.find("gateway", "name", name)
        if not found:
            return ops.create_internal(None, "gateway", {"name": name, **fields}).id
        gateway = found[0]
        stale = ops.tx.now - (gateway.updated or 0) >= refresh_after_ms
        if stale or any(gateway.data.get(k) != v for k, v in fields.items()):
            gateway.data.update(fields)
            ops.touch(gateway)
        return gateway.id

    return directory.write_as_system(work)


def mark_host_down(directory: Directory, host_id: str, disconnected_ms: int, now_ms: int) -> bool:
    """Record the host as DOWN, unless it came back (to any controller) since ``disconnected_ms``."""

    def work(ops: Operations) -> bool:
        vrs = _vrs(ops, host_id)
        if vrs is None or vrs.data.get("status") != "UP":
            return False
        if int(vrs.data.get("lastStateChange") or 0) > disconnected_ms:
            return False  # a newer session registered it again
        vrs.data.update(status="DOWN", lastStateChange=now_ms, lastEventTimestamp=disconnected_ms)
        ops.touch(vrs)
        return True

    return directory.write_as_system(work)


def claim_endpoints(
    directory: Directory,
    host_id: str,
    claims: Iterable[EndpointClaim],
    now_ms: int,
    principal: Principal | None,
) -> list[ClaimResult]:
    """Bind (or unbind) endpoints to the host, all in one transaction; one result per claim.

    A claim names a vport and the MAC of its interface. Up binds the interface's container or
    VM to the host (``VRSID``, ``hypervisorIP``, ``status`` RUNNING) and sets the vport's
    ``operationalState`` UP. A host may not take an endpoint another host runs while that host
    is UP. Binding needs ``principal`` (the host's runtime credentials) to see the vport: a vport
    it may not see is answered as missing. Down unbinds it, only if it is bound to this host.
    """
    return claim_endpoints_of_hosts(directory, {host_id: list(claims)}, now_ms, {host_id: principal})[host_id]


def claim_endpoints_of_hosts(
    directory: Directory,
    claims_by_host: dict[str, list[EndpointClaim]],
    now_ms: int,
    principals: dict[str, Principal | None],
) -> dict[str, list[ClaimResult]]:
    """:func:`claim_endpoints` for several hosts in one transaction (in the order given: a
    later host's claim sees an earlier one's binding)."""

    def work(ops: Operations) -> dict[str, list[ClaimResult]]:
        every = [c for claims in claims_by_host.values() for c in claims]
        # Everything the claims read, in a few queries instead of three per claim.
        interfaces = ops.interfaces_of_vports([c.vport_id for c in every])
        ops.tx.prefetch(
            [c.vport_id for c in every] + [i.parent_id or "" for f in interfaces.values() for i in f]
        )
        results: dict[str, list[ClaimResult]] = {}
        for host_id, claims in claims_by_host.items():
            vrs = _vrs(ops, host_id)
            if vrs is None:
                results[host_id] = [ClaimResult(False, f"host {host_id} is not registered")] * len(claims)
                continue
            principal = principals.get(host_id)
            found = [
                _claim(ops, vrs, claim, interfaces.get(claim.vport_id, []), principal) for claim in claims
            ]
            if any(r.ok for r in found):
                _count_endpoints(ops, vrs, now_ms)
            results[host_id] = found
        return results

    return directory.write_as_system(work)


def _claim(
    ops: Operations,
    vrs: Obj,
    claim: EndpointClaim,
    interfaces_of_vport: list[Obj],
    principal: Principal | None,
) -> ClaimResult:
    vport = ops.tx.get(claim.vport_id)
    if claim.up and principal is None:
        return ClaimResult(False, NO_CREDENTIALS)
    missing = ClaimResult(False, f"vport {claim.vport_id} does not exist")
    if vport is None or vport.kind != "vport":
        return missing
    if claim.up and principal is not None and not visible_to(principal, vport.kind, vport.enterprise_id):
        return missing  # another tenant's: answered as a missing one
    mac = claim.mac.lower()
    interfaces = [i for i in interfaces_of_vport if str(i.data.get("MAC", "")).lower() == mac]
    if not interfaces:
        return ClaimResult(False, f"vport {vport.id} has no interface with MAC {claim.mac}")
    owner = ops.tx.get(interfaces[0].parent_id)
    if owner is None:
        return ClaimResult(False, f"the interface of vport {vport.id} has no container or VM")
    bound_to = owner.data.get("VRSID")
    if claim.up:
        if bound_to and bound_to != vrs.id:
            other = ops.tx.get(bound_to)
            if other is not None and other.data.get("status") == "UP":
                name = other.data.get("name")
                return ClaimResult(False, f"vport {vport.id} runs on host {name}, not {vrs.data['name']}")
        if bound_to != vrs.id or owner.data.get("status") != "RUNNING":
            owner.data.update(VRSID=vrs.id, hypervisorIP=vrs.data.get("address"), status="RUNNING")
            ops.touch(owner, relink=True)
        if vport.data.get("operationalState") != "UP":
            vport.data["operationalState"] = "UP"
            ops.touch(vport)
        return ClaimResult(True)
    if bound_to != vrs.id:
        return ClaimResult(True)  # not ours (or not bound): nothing to undo, idempotent
    owner.data.update(VRSID=None, hypervisorIP=None, status="SHUTDOWN")
    ops.touch(owner, relink=True)
    if vport.data.get("operationalState") != "DOWN":
        vport.data["operationalState"] = "DOWN"
        ops.touch(vport)
    return ClaimResult(True)


def _count_endpoints(ops: Operations, vrs: Obj, now_ms: int) -> None:
    # Through the scope index (an endpoint's listings include the host it runs on): a JSON
    # attribute filter would scan every endpoint of the system on each claim.
    containers = ops.tx.count_in_scope(vrs.id, "container")
    vms = ops.tx.count_in_scope(vrs.id, "vm")
    if (vrs.data.get("numberOfContainers"), vrs.data.get("numberOfVirtualMachines")) != (containers, vms):
        vrs.data.update(numberOfContainers=containers, numberOfVirtualMachines=vms, lastEventTimestamp=now_ms)
        ops.touch(vrs)


# --- endpoints created on a host's behalf (CNI, Docker) --------------------------------------------


@dataclass(frozen=True)
class EndpointSpec:
    """What a runtime's network configuration asks for, by name."""

    enterprise: str
    domain: str
    zone: str
    subnet: str
    policy_groups: tuple[str, ...]
    name: str
    uuid: str  # the runtime's identity of this interface
    mac: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class CreatedEndpoint:
    vport_id: str
    mac: str
    ip: str
    prefix_length: int
    gateway: str


NO_CREDENTIALS = (
    "this host's agent has no runtime credentials (overcast agent --credentials FILE): "
    "its runtimes' requests are refused"
)


class EndpointRefused(Exception):
    """A create the directory refuses: ``status`` 404 (a named object is missing), 409, 400."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _enterprise(ops: Operations, name: str) -> Obj:
    found = [e for e in ops.tx.find("enterprise", "name", name) if ops.visible(e)]
    if not found:
        raise EndpointRefused(404, f"no enterprise named {name!r}")
    return found[0]


def _child(ops: Operations, kind: str, name: str, parent: Obj, what: str) -> Obj:
    found = [o for o in ops.tx.find(kind, "name", name) if o.parent_id == parent.id and ops.visible(o)]
    if not found:
        raise EndpointRefused(404, f"no {what} named {name!r} in {parent.kind} {parent.data.get('name')!r}")
    return found[0]


def _interface_of(ops: Operations, container: Obj) -> CreatedEndpoint:
    interface = next(
        iter(ops.tx.find("containerinterface", "containerUUID", container.data.get("UUID"))), None
    )
    if interface is None:
        raise EndpointRefused(409, f"container {container.data.get('name')!r} has no interface")
    netmask = str(interface.data.get("netmask") or "255.255.255.255")
    prefix = ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
    return CreatedEndpoint(
        str(interface.data.get("VPortID")),
        str(interface.data.get("MAC")),
        str(interface.data.get("IPAddress") or ""),
        prefix,
        str(interface.data.get("gateway") or ""),
    )


def _hosts_endpoint(ops: Operations, container: Obj, host_id: str) -> bool:
    """Whether the host may answer for a container: it created it, or runs it."""
    if container.data.get("externalID") == HOST_MARK + host_id:
        return True
    vrs = _vrs(ops, host_id)
    return vrs is not None and container.data.get("VRSID") == vrs.id


def create_endpoint(
    directory: Directory, principal: Principal | None, host_id: str, spec: EndpointSpec
) -> CreatedEndpoint:
    """The vport, the container with its interface (address allocated by the directory unless
    given) and the policy-group memberships, in one transaction — or nothing — created as
    ``principal`` and marked as created by ``host_id``. Asking again for the same ``uuid``
    answers what exists, if this host created or runs it and it is where ``spec`` says."""
    if principal is None:
        raise EndpointRefused(403, NO_CREDENTIALS)

    def work(ops: Operations) -> CreatedEndpoint:
        enterprise = _enterprise(ops, spec.enterprise)
        domain = _child(ops, "domain", spec.domain, enterprise, "domain")
        zone = _child(ops, "zone", spec.zone, domain, "zone")
        subnet = _child(ops, "subnet", spec.subnet, zone, "subnet")
        existing = ops.tx.find("container", "UUID", spec.uuid)
        if existing:
            container = existing[0]
            answer = _interface_of(ops, container) if ops.visible(container) else None
            vport = ops.tx.get(answer.vport_id) if answer else None
            if (
                answer is None
                or vport is None
                or vport.parent_id != subnet.id
                or not _hosts_endpoint(ops, container, host_id)
            ):
                # Another runtime's, host's or tenant's: said as little as a taken name says.
                raise EndpointRefused(409, f"the endpoint identity {spec.uuid!r} is already in use")
            return answer
        groups = [_child(ops, "policygroup", name, domain, "policy group") for name in spec.policy_groups]
        suffix = uuid_module.uuid5(uuid_module.NAMESPACE_URL, spec.uuid).hex[:8]
        vport = ops.create(
            subnet,
            REGISTRY.entity("vport"),
            {
                "name": f"{spec.name}-{suffix}"[:64],
                "type": "CONTAINER",
                "addressSpoofing": "INHERITED",
                "description": f"created for {spec.uuid}",
            },
        )
        mac = spec.mac or _mac_for(spec.uuid)
        interface: dict[str, Any] = {"MAC": mac, "VPortID": vport.id}
        if spec.ip:
            interface["IPAddress"] = spec.ip
        container = ops.create(
            None,
            REGISTRY.entity("container"),
            {
                "name": spec.name,
                "UUID": spec.uuid,
                "interfaces": [interface],
                "externalID": HOST_MARK + host_id,
            },
        )
        if groups:
            ops.assign(vport, REGISTRY.entity("policygroup"), [g.id for g in groups])
        return _interface_of(ops, container)

    try:
        return directory.write_as(principal, work)
    except VsdError as exc:
        raise EndpointRefused(exc.status, str(exc)) from None


class NotThisHosts(Exception):
    """A removal named an endpoint this host neither created nor runs (or may not see)."""


def remove_endpoint(directory: Directory, principal: Principal | None, host_id: str, uuid: str) -> str | None:
    """Delete the container of ``uuid`` and its vport (its address returns to the subnet), as
    ``principal``, if ``host_id`` created or runs it. Returns the vport's ID, or None when
    there was nothing to delete. Raises :class:`NotThisHosts` for another host's or tenant's
    endpoint (the caller answers as for an unknown one, and logs it)."""
    if principal is None:
        raise EndpointRefused(403, NO_CREDENTIALS)

    def work(ops: Operations) -> str | None:
        containers = ops.tx.find("container", "UUID", uuid)
        if not containers:
            return None
        if not ops.visible(containers[0]) or not _hosts_endpoint(ops, containers[0], host_id):
            raise NotThisHosts(uuid)
        vports = [i.data.get("VPortID") for i in ops.tx.find("containerinterface", "containerUUID", uuid)]
        ops.delete(containers[0], confirmed=True)
        for vport_id in vports:
            vport = ops.tx.get(str(vport_id)) if vport_id else None
            if vport is not None and vport.kind == "vport":
                ops.delete(vport, confirmed=True)
        return str(vports[0]) if vports and vports[0] else None

    try:
        return directory.write_as(principal, work)
    except VsdError as exc:
        raise EndpointRefused(exc.status, str(exc)) from None


def _mac_for(uuid: str) -> str:
    """A stable, locally administered unicast MAC for an interface identity."""
    digest = uuid_module.uuid5(uuid_module.NAMESPACE_OID, uuid).bytes
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def ensure_subnet(
    directory: Directory,
    principal: Principal | None,
    enterprise: str,
    domain: str,
    zone: str,
    subnet: str,
    address: str,
    netmask: str,
) -> None:
    """The zone and the subnet, created in the domain when missing (one transaction, as
    ``principal``); an existing subnet must have ``address``/``netmask``."""
    if principal is None:
        raise EndpointRefused(403, NO_CREDENTIALS)

    def work(ops: Operations) -> None:
        domain_obj = _child(ops, "domain", domain, _enterprise(ops, enterprise), "domain")
        zones = [o for o in ops.tx.find("zone", "name", zone) if o.parent_id == domain_obj.id]
        zone_obj = zones[0] if zones else ops.create(domain_obj, REGISTRY.entity("zone"), {"name": zone})
        subnets = [o for o in ops.tx.find("subnet", "name", subnet) if o.parent_id == zone_obj.id]
        if not subnets:
            ops.create(
                zone_obj, REGISTRY.entity("subnet"), {"name": subnet, "address": address, "netmask": netmask}
            )
        elif (subnets[0].data.get("address"), subnets[0].data.get("netmask")) != (address, netmask):
            have = f"{subnets[0].data.get('address')}/{subnets[0].data.get('netmask')}"
            raise EndpointRefused(409, f"subnet {subnet!r} exists with {have}, not {address}/{netmask}")

    try:
        directory.write_as(principal, work)
    except VsdError as exc:
        raise EndpointRefused(exc.status, str(exc)) from None
