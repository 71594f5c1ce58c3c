"""The in-memory dataplane: what the Linux driver would program, run through models of the kernel.

It holds the entries it was told, and when a packet is traced it programs each domain the way
the Linux driver would — the same :func:`~overcast.dataplane.linux.plan.plan_domain` and the
same nftables scripts, loaded into :mod:`.model.nftables` — and walks the packet through that
(:mod:`.model.namespace`): the endpoint's port, the bridge, routing by the anycast gateway,
the FDB, the VXLAN device to the destination's VTEP, and on the destination's host the same
again. So a test that compares traces with the reachability oracle checks the compiler's
views, the driver's plan and the ruleset generator together, without root and at any size;
the Linux tests check the same scenarios with real packets.

Without runtimes, every local endpoint counts as plumbed (its port exists). Fail closed: an
endpoint the host was not told about is in no set and has no port.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..policy.compiler import DomainView, Endpoint, Key, views_of
from ..policy.oracle import IPV4, Decision, Packet, covers
from ..protocol.codec import decode_entry
from .base import Attachment, Dataplane
from .change import Change
from .linux.nat import HOST_NAT, keep_index, needs_uplink
from .linux.plan import plan_domain, uplink_name, veth_name
from .model.namespace import DomainNamespace, Walk
from .model.nftables import Frame, Ruleset, Step


@dataclass(frozen=True)
class Hop:
    host_id: str
    direction: str  # ingress (leaving the source) | egress (arriving at the destination)
    decision: Decision  # the rule's comment (its ACL entry, or "default") and its verdict


@dataclass(frozen=True)
class Tunnel:
    vtep: str  # the underlay address the frame is sent to
    vni: int
    frame: Frame


@dataclass(frozen=True)
class Trace:
    delivered: bool
    reason: str  # delivered | dropped by <entry or default> | no-endpoint | gateway | tunnelled | ...
    hops: tuple[Hop, ...] = ()
    tunnel: Tunnel | None = None  # on its way to another host
    vport_id: str | None = None  # delivered to this endpoint
    leaves_as: str | None = None  # gone outside, with this source address


class MemoryDataplane(Dataplane):
    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        self.raw: dict[Key, Any] = {}  # protobuf entries, decoded when traced
        self.attachments: dict[str, Attachment] = {}
        self.applied = 0
        self._views: list[DomainView] | None = None
        self._namespaces: dict[str, DomainNamespace] = {}
        self._programmed = -1  # the ``applied`` count the namespaces were programmed at
        self._uplinks: dict[str, int] = {}  # uplink (host end) -> its number

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

    def namespaces(self) -> dict[str, DomainNamespace]:
        """Every domain's namespace, programmed from the entries held now (as the driver
        would: a firewall whose shape is unchanged only gets its set elements updated)."""
        if self._programmed != self.applied:
            live = {}
            for view in self.views():
                namespace = self._namespaces.get(view.id) or DomainNamespace()
                present = {veth_name(e.vport_id) for e in view.local}
                plan = plan_domain(view, self.attachments, present, self.host_id, self._uplink_index(view))
                namespace.program(view, plan)
                live[view.id] = namespace
            self._namespaces, self._programmed = live, self.applied
        return self._namespaces

    def _uplink_index(self, view: DomainView) -> int | None:
        """As the Linux driver numbers uplinks: kept while the domain has one."""
        link = uplink_name(view.id)
        if not needs_uplink(view):
            self._uplinks.pop(link, None)
            return None
        return keep_index(self._uplinks, link, view.id)

    def underlay(self) -> str | None:
        """This host's VTEP address, as the entries give it."""
        return next((e.vtep for view in self.views() for e in view.local if e.vtep), None)

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
        """A packet leaving a local endpoint (of ``domain_id`` when addresses are reused), as
        far as this host takes it: delivered here, dropped, or tunnelled to another host."""
        source = self._find(packet.src, domain_id)
        if source is None:
            return Trace(False, "no-endpoint")
        view, endpoint = source
        namespace = self.namespaces()[view.id]
        port = veth_name(endpoint.vport_id)
        if port not in namespace.planned.ports:
            return Trace(False, namespace.planned.refused.get(endpoint.vport_id, "not plumbed"))
        if packet.ether_type == IPV4:
            next_mac = namespace.next_hop_mac(port, packet.dst)
        else:  # a raw frame, sent to the destination's MAC
            owner = (e for e in (*view.local, *view.remote) if e.ip == packet.dst)
            next_mac = next((e.mac.lower() for e in owner), None)
        if next_mac is None:
            return Trace(False, "no-endpoint")
        frame = _frame(packet, endpoint.mac.lower(), next_mac)
        return self._trace(view.id, namespace.from_port(port, frame))

    def arrive(self, packet: Packet) -> Trace | None:
        """A packet from outside, routed to this host: into the domain whose uplink the host
        routes its destination to (a floating IP here, an advertised subnet); None when this
        host routes it nowhere."""
        for domain_id, namespace in self.namespaces().items():
            uplink = namespace.planned.uplink
            if uplink is not None and covers(uplink.routes, packet.dst):
                frame = _frame(packet, "outside", "uplink")
                return self._trace(domain_id, namespace.from_uplink(frame))
        return None

    def receive(self, tunnel: Tunnel) -> Trace:
        """A frame arriving from the underlay: into the domain that has its VNI."""
        for domain_id, namespace in self.namespaces().items():
            if tunnel.vni in {vni for vni, _ in namespace.planned.vxlans.values()}:
                return self._trace(domain_id, namespace.from_vxlan(tunnel.vni, tunnel.frame))
        return Trace(False, f"no VNI {tunnel.vni} on {self.host_id}")

    def _trace(self, domain_id: str, walk: Walk) -> Trace:
        hops = tuple(
            Hop(self.host_id, step.chain, Decision(_verdict(step) != "drop", step.comment or ""))
            for step in walk.steps
            if step.chain in ("ingress", "egress") and _verdict(step) in ("accept", "return", "drop")
        )
        if walk.outcome == "delivered":
            namespace = self._namespaces[domain_id]
            assert walk.port is not None
            return Trace(True, "delivered", hops, vport_id=namespace.planned.ports[walk.port].vport_id)
        if walk.outcome == "local":
            return Trace(True, "gateway", hops)
        if walk.outcome == "outside":  # the host namespace masquerades what PAT sent
            frame = _HOST_NAT.translate(
                "postrouting", replace(walk.frame, oifname="underlay"), self.underlay()
            )
            return Trace(True, "outside", hops, leaves_as=frame.saddr)
        if walk.outcome == "tunnelled":
            assert walk.vtep is not None and walk.vni is not None
            return Trace(False, "tunnelled", hops, tunnel=Tunnel(walk.vtep, walk.vni, walk.frame))
        if walk.reason == "firewall":
            return Trace(False, f"dropped by {_decisive(walk.steps)}", hops)
        return Trace(False, walk.reason, hops)


#: The host namespace's NAT, as the driver loads it on every host (the same for all: read only).
_HOST_NAT = Ruleset()
_HOST_NAT.run(HOST_NAT)


def _frame(packet: Packet, src_mac: str, dst_mac: str) -> Frame:
    if packet.ether_type != IPV4:
        return Frame(packet.ether_type, src_mac, dst_mac)
    return Frame(IPV4, src_mac, dst_mac, saddr=packet.src, daddr=packet.dst, l4proto=packet.protocol,
                 sport=packet.sport, dport=packet.dport, icmp_type=packet.icmp_type,
                 icmp_code=packet.icmp_code)  # fmt: skip


#: A policy chain's drop: a jump to the chain that counts it per endpoint, then drops.
_DENY_JUMPS = ("jump deny_sent", "jump deny_received")


def _verdict(step: Step) -> str:
    return "drop" if step.verdict in _DENY_JUMPS else step.verdict


def _decisive(steps: tuple[Step, ...]) -> str:
    """What dropped the packet: the ACL entry (or "default") of the policy chains, else the
    chain (a base chain's rule or policy)."""
    last = steps[-1]
    if last.chain in ("deny_sent", "deny_received") and len(steps) > 1:
        last = steps[-2]  # the policy chain's rule that jumped there
    if last.chain in ("ingress", "egress"):
        return last.comment or ""
    return f"{last.table} {last.chain} {'policy' if last.rule is None else f'rule {last.rule}'}"


def trace_from_outside(dataplanes: Mapping[str, MemoryDataplane], packet: Packet) -> Trace:
    """A packet from outside, to the host that routes its destination (the routers learn each
    floating IP with its host as next hop), and on to wherever it ends."""
    for dataplane in dataplanes.values():
        trace = dataplane.arrive(packet)
        if trace is not None:
            return _follow(dataplanes, trace)
    return Trace(False, "no route from outside")


def trace_between(
    dataplanes: Mapping[str, MemoryDataplane], source_host: str, packet: Packet, domain_id: str | None = None
) -> Trace:
    """Follow a packet from a host's local endpoint to wherever it ends (across hosts)."""
    return _follow(dataplanes, dataplanes[source_host].send(packet, domain_id))


def _follow(dataplanes: Mapping[str, MemoryDataplane], trace: Trace) -> Trace:
    """A trace carried on through the tunnels it takes, host after host."""
    hops = trace.hops
    for _ in range(len(dataplanes)):
        if trace.tunnel is None:
            break
        vtep = trace.tunnel.vtep
        target = next((dp for dp in dataplanes.values() if dp.underlay() == vtep), None)
        if target is None:
            return Trace(False, f"no host at {vtep}", hops)
        trace = target.receive(trace.tunnel)
        hops += trace.hops
    return Trace(trace.delivered, trace.reason, hops, trace.tunnel, trace.vport_id, trace.leaves_as)
