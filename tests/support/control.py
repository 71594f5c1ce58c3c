"""The in-process control plane's hosts and what tests do with them: attach, trace."""

from __future__ import annotations

from typing import Any

from overcast.dataplane.memory import MemoryDataplane, trace_between
from overcast.policy.oracle import Packet
from overcast.testing.cluster import Cluster

from .vspk_topology import Shop

HOSTS = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3"}


def attach(cluster: Cluster, host: str, shop: Shop, name: str) -> dict[str, Any]:
    with cluster.client(host) as client:
        return client.attach(shop.vports[name].id, shop.macs[name])


def dataplanes(cluster: Cluster) -> dict[str, MemoryDataplane]:
    return {h: a.dataplane for h, a in cluster.agents.items()}  # type: ignore[misc]


def reach(cluster: Cluster, host: str, src: str, dst: str, port: int, domain: str | None = None) -> bool:
    packet = Packet(src, dst, dport=port)
    return cluster.call(lambda: trace_between(dataplanes(cluster), host, packet, domain).delivered)
