"""``overcast policy verify``, its pure parts: which flows to try, and whether the datapath's
own answer agrees with the model's explanation.

A sample is a flow between two real endpoints of one domain. The model (the controller's
``Explain``, the same oracle as ``policy explain`` and the compliance checks) says whether it
passes and which entry (or default) decides at the source's host (ingress) and, when that
lets it go, at the destination's (egress). The datapath answers twice: the probe packet got
through or not, and the counter of each deciding entry moved on its host. Anything else is a
disagreement, reported with what each side said.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    vport_id: str
    domain_id: str
    ip: str
    host_id: str
    probeable: bool  # its host can send from its namespace


@dataclass(frozen=True)
class Sample:
    source: Endpoint
    destination: Endpoint
    protocol: str  # tcp | icmp
    port: int  # tcp: the destination port


@dataclass(frozen=True)
class Judgement:
    allowed: bool
    decided_by: str
    host_id: str


@dataclass(frozen=True)
class Explanation:
    allowed: bool
    ingress: Judgement
    egress: Judgement | None  # None: ingress dropped it, egress never judged


#: Counters as agents report them: host -> domain -> direction -> entry -> packets.
Counts = Mapping[str, Mapping[str, Mapping[str, Mapping[str, int]]]]


def choose(
    endpoints: Sequence[Endpoint], ports: Sequence[int], count: int, rng: random.Random
) -> list[Sample]:
    """Up to ``count`` flows between distinct endpoints of one domain, from a probeable source:
    TCP to the ports the policy names (and one it does not) or ICMP echo."""
    by_domain: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_domain.setdefault(endpoint.domain_id, []).append(endpoint)
    pairs = [
        (source, destination)
        for members in by_domain.values()
        for source in members
        if source.probeable
        for destination in members
        if destination.vport_id != source.vport_id
    ]
    if not pairs:
        return []
    services = [("tcp", port) for port in sorted(set(ports))] + [("tcp", 9), ("icmp", 0)]
    samples = []
    for _ in range(count):
        source, destination = rng.choice(pairs)
        protocol, port = rng.choice(services)
        samples.append(Sample(source, destination, protocol, port))
    return samples


def _moved(before: Counts, after: Counts, judgement: Judgement, domain_id: str, direction: str) -> int:
    def packets(counts: Counts) -> int:
        return (
            counts.get(judgement.host_id, {})
            .get(domain_id, {})
            .get(direction, {})
            .get(judgement.decided_by, 0)
        )

    return packets(after) - packets(before)


def disagreements(
    sample: Sample, explanation: Explanation, reached: bool, before: Counts, after: Counts
) -> list[str]:
    """What the datapath said that the model did not (empty: they agree)."""
    found = []
    if explanation.allowed != reached:
        found.append(
            f"the model says {'ALLOW' if explanation.allowed else 'DENY'}, "
            f"the packet {'got through' if reached else 'did not get through'}"
        )
    steps = [("ingress", explanation.ingress)]
    if explanation.egress is not None:
        steps.append(("egress", explanation.egress))
    for direction, judgement in steps:
        if not judgement.host_id:
            continue  # not judged by a host's rules (e.g. an endpoint without a host)
        if _moved(before, after, judgement, sample.source.domain_id, direction) < 1:
            found.append(
                f"{direction} at {judgement.host_id}: the model names {judgement.decided_by}, "
                "whose counter did not move"
            )
    return found
