"""Packets traced through memory dataplanes, judged by the reachability oracle.

The memory dataplane walks a packet through what the Linux driver would program (its plan and
its nftables scripts, interpreted); the oracle judges the same flow from the compiled views.
Where they disagree, the compiler's views, the driver's plan or the ruleset generator is wrong.
The behaviour suite (tests) and ``overcast bench paths`` both judge flows this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..dataplane.change import Change
from ..dataplane.memory import MemoryDataplane, Trace, trace_between
from ..policy.compiler import HostView, Key
from ..policy.oracle import Packet, Verdict, verdict
from ..protocol.codec import encode_entry


def deploy(per_host: Mapping[str, Mapping[Key, Any]]) -> dict[str, MemoryDataplane]:
    """A memory dataplane per host, given its entries as one snapshot."""
    dataplanes = {}
    for host, entries in per_host.items():
        dataplane = MemoryDataplane(host)
        dataplane.apply(Change(snapshot=True, upserts={k: encode_entry(k, v) for k, v in entries.items()}))
        dataplanes[host] = dataplane
    return dataplanes


def in_domain(views: Mapping[str, HostView], domain_id: str) -> dict[str, HostView]:
    """The views restricted to one domain (tenants reuse addresses: the oracle finds endpoints
    by address)."""
    return {h: HostView(h, tuple(d for d in v.domains if d.id == domain_id)) for h, v in views.items()}


def disagreement(judged: Verdict | None, traced: Trace, destination_vport: str) -> str | None:
    """None when the trace did what the oracle says (``judged`` None: endpoints of different
    domains, which never meet) — delivered to the destination exactly when allowed, with the
    same deciding entries — else what differs."""
    delivered = traced.delivered and traced.vport_id == destination_vport
    expected = judged is not None and judged.allowed
    if delivered != expected:
        return f"oracle {'allows' if expected else 'denies'}, trace: {traced.reason}"
    if judged is None:
        return None
    decided = {(hop.direction, hop.decision.allowed, hop.decision.decided_by) for hop in traced.hops}
    if judged.allowed:
        needed = {("ingress", True, judged.ingress.decided_by), ("egress", True, judged.egress.decided_by)}
    elif not judged.ingress.allowed:
        needed = {("ingress", False, judged.ingress.decided_by)}
    else:
        needed = {("egress", False, judged.egress.decided_by)}
    if not needed <= decided:
        return f"oracle decided by {sorted(needed)}, trace by {sorted(decided)}"
    return None


def judge(
    dataplanes: Mapping[str, MemoryDataplane],
    views: Mapping[str, HostView],
    source_host: str,
    packet: Packet,
    domain_id: str,
    destination_vport: str,
    same_domain: bool = True,
) -> tuple[Verdict | None, Trace, str | None]:
    """Trace one flow and judge it: (the oracle's verdict, the trace, the disagreement)."""
    judged = verdict(in_domain(views, domain_id), packet) if same_domain else None
    traced = trace_between(dataplanes, source_host, packet, domain_id)
    return judged, traced, disagreement(judged, traced, destination_vport)
