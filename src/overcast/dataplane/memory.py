"""The in-memory dataplane: holds what it was told and traces packets through it.

It is the reachability oracle's twin inside an agent: a packet leaving a local endpoint is
judged by this host's ingress rules; one arriving for a local endpoint by its egress rules; a
packet for a remote endpoint leaves towards that endpoint's VTEP. :func:`trace_between` composes
two hosts' dataplanes into the whole path. Fail closed: an endpoint the host was not told
about sends and receives nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..policy.compiler import DomainView, Endpoint, Key, views_of
from ..policy.oracle import Decision, Packet, decide
from ..protocol.codec import decode_entry
from .base import Attachment, Dataplane
from .change import Change


@dataclass(frozen=True)
class Hop:
    host_id: str
    direction: str  # ingress (leaving the source) | egress (arriving at the destination)
    decision: Decision


@dataclass(frozen=True)
class Trace:
    delivered: bool
    reason: str  # delivered | dropped by <entry or default> | no-endpoint | other-domain | ...
    hops: tuple[Hop, ...] = ()
    next_vtep: str | None = None  # the underlay address the packet is tunnelled to
    domain_id: str | None = None  # the domain it is tunnelled in


class MemoryDataplane(Dataplane):
    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        self.raw: dict[Key, Any] = {}  # protobuf entries, decoded when traced
        self.attachments: dict[str, Attachment] = {}
        self.applied = 0
        self._views: list[DomainView] | None = None

    def apply(self, change: Change) -> None:
        if change.snapshot:
            self.raw = dict(change.upserts)
        else:
            for key in change.removals:
                self.raw.pop(key, None)
            self.raw.update(change.upserts)
        self.applied += 1
        self._views = None

    def attach(self, attachment: Attachment) -> None:
        self.attachments[attachment.vport_id] = attachment

    def detach(self, vport_id: str) -> None:
        self.attachments.pop(vport_id, None)

    def describe(self) -> dict[str, Any]:
        families: dict[str, int] = {}
        for key in self.raw:
            families[key[0]] = families.get(key[0], 0) + 1
        return {"kind": "memory", "entries": families, "attachments": sorted(self.attachments)}

    # --- tracing -------------------------------------------------------------------------------

    def views(self) -> list[DomainView]:
        if self._views is None:
            decoded = {key: decode_entry(entry)[1] for key, entry in self.raw.items()}
            self._views = views_of(decoded, self.host_id)
        return self._views

    def _find(self, ip: str, domain_id: str | None = None) -> tuple[DomainView, Endpoint] | None:
        found = [
            (view, endpoint)
            for view in self.views()
            if domain_id is None or view.id == domain_id
            for endpoint in view.local
            if endpoint.ip == ip
        ]
        if len(found) > 1:  # tenants may reuse addresses: the caller must say which domain
            raise ValueError(f"{ip} is a local endpoint of several domains; name the domain")
        return found[0] if found else None

    def send(self, packet: Packet, domain_id: str | None = None) -> Trace:
        """A packet leaving a local endpoint (of ``domain_id`` when addresses are reused):
        this host's ingress policy, then local delivery (egress here too) or the tunnel to the
        destination's VTEP."""
        source = self._find(packet.src, domain_id)
        if source is None:
            return Trace(False, "no-endpoint")
        view, local = source
        ingress = decide(view, "ingress", local, packet)
        hops: tuple[Hop, ...] = (Hop(self.host_id, "ingress", ingress),)
        if not ingress.allowed:
            return Trace(False, f"dropped by {ingress.decided_by}", hops)
        destination = next((e for e in (*view.local, *view.remote) if e.ip == packet.dst), None)
        if destination is None:
            return Trace(False, "no-endpoint", hops)
        if destination.host_id != self.host_id:
            return Trace(True, "tunnelled", hops, next_vtep=destination.vtep, domain_id=view.id)
        arrival = self.receive(packet, view.id)
        return Trace(arrival.delivered, arrival.reason, hops + arrival.hops)

    def receive(self, packet: Packet, domain_id: str | None = None) -> Trace:
        """A packet arriving for a local endpoint (of ``domain_id``, the VNI it came on):
        this host's egress policy decides."""
        destination = self._find(packet.dst, domain_id)
        if destination is None:
            return Trace(False, "no-endpoint")
        view, local = destination
        if not any(e.ip == packet.src for e in (*view.local, *view.remote)):
            return Trace(False, "other-domain")
        egress = decide(view, "egress", local, packet)
        hop = Hop(self.host_id, "egress", egress)
        if not egress.allowed:
            return Trace(False, f"dropped by {egress.decided_by}", (hop,))
        return Trace(True, "delivered", (hop,))


def trace_between(
    dataplanes: Mapping[str, MemoryDataplane], source_host: str, packet: Packet, domain_id: str | None = None
) -> Trace:
    """Follow a packet from a host's local endpoint to wherever it ends (across hosts)."""
    first = dataplanes[source_host].send(packet, domain_id)
    if not first.delivered or first.next_vtep is None:
        return first
    target = next(
        (
            dp
            for dp in dataplanes.values()
            if any(e.vtep == first.next_vtep for v in dp.views() for e in v.local)
        ),
        None,
    )
    if target is None:
        return Trace(False, f"no host at {first.next_vtep}", first.hops)
    arrival = target.receive(packet, first.domain_id)
    return Trace(arrival.delivered, arrival.reason, first.hops + arrival.hops)
