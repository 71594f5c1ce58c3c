"""What the controller writes back into the directory: hosts (``vrs``) and endpoint bindings.

Agents hold no directory credentials; the controller records, as the system principal, that a
host is up or down and which endpoints run on it. These writes go through the directory's own
transactions, so they land in the change log like any other change and the policy engine
learns placement from there (one source of truth for every controller replica).

Blocking (SQL): the controller calls these from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..directory.service import Directory, Operations
from ..directory.transaction import Obj


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


def _vrs(ops: Operations, host_id: str) -> Obj | None:
    found = ops.tx.find("vrs", "name", host_id)
    return found[0] if found else None


def register_host(directory: Directory, host_id: str, address: str, now_ms: int) -> str:
    """Record the host as UP with its underlay address; return its vrs ID."""

    def work(ops: Operations) -> str:
        vrs = _vrs(ops, host_id)
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
    directory: Directory, host_id: str, claims: Iterable[EndpointClaim], now_ms: int
) -> list[ClaimResult]:
    """Bind (or unbind) endpoints to the host, all in one transaction; one result per claim.

    A claim names a vport and the MAC of its interface. Up binds the interface's container or
    VM to the host (``VRSID``, ``hypervisorIP``, ``status`` RUNNING) and sets the vport's
    ``operationalState`` UP. A host may not take an endpoint another host runs while that host
    is UP. Down unbinds it, only if it is bound to this host.
    """
    claims = list(claims)

    def work(ops: Operations) -> list[ClaimResult]:
        vrs = _vrs(ops, host_id)
        if vrs is None:
            return [ClaimResult(False, f"host {host_id} is not registered")] * len(claims)
        results = [_claim(ops, vrs, claim) for claim in claims]
        if any(r.ok for r in results):
            _count_endpoints(ops, vrs, now_ms)
        return results

    return directory.write_as_system(work)


def _claim(ops: Operations, vrs: Obj, claim: EndpointClaim) -> ClaimResult:
    vport = ops.tx.get(claim.vport_id)
    if vport is None or vport.kind != "vport":
        return ClaimResult(False, f"vport {claim.vport_id} does not exist")
    mac = claim.mac.lower()
    interfaces = [i for i in ops.interfaces_of_vport(vport.id) if str(i.data.get("MAC", "")).lower() == mac]
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
    containers = len(ops.tx.find("container", "VRSID", vrs.id))
    vms = len(ops.tx.find("vm", "VRSID", vrs.id))
    if (vrs.data.get("numberOfContainers"), vrs.data.get("numberOfVirtualMachines")) != (containers, vms):
        vrs.data.update(numberOfContainers=containers, numberOfVirtualMachines=vms, lastEventTimestamp=now_ms)
        ops.touch(vrs)
