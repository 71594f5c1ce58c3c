"""The in-process control plane's hosts and what tests do with them: attach, trace."""

from __future__ import annotations

import asyncio
from typing import Any

from overcast.agent.agent import Agent, TlsFiles
from overcast.agent.credentials import RuntimeCredentials
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


async def session_outcome(
    cluster: Cluster,
    host_id: str,
    *,
    tls: TlsFiles | None = None,
    credentials: RuntimeCredentials | None = None,
    underlay: str = "192.0.2.9",
) -> str:
    """Start an agent with this identity, wait for its session to be refused or to start, and
    stop it: the error it saw, or ``connected to ...``."""
    agent = Agent(host_id, underlay, cluster.addresses(), MemoryDataplane(host_id), tls=tls,
                  tls_server_name="controller" if tls else None, credentials=credentials)  # fmt: skip
    task = asyncio.create_task(agent.run())
    try:
        for _ in range(300):
            if agent.last_error or agent.controller:
                break
            await asyncio.sleep(0.02)
        return agent.last_error or f"connected to {agent.controller}"
    finally:
        agent.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
