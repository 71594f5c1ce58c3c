"""Running an agent process: the controller session and the local API, in one asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import signal
from dataclasses import dataclass
from pathlib import Path

from ..dataplane.base import Dataplane
from .agent import Agent, TlsFiles
from .api import DEFAULT_SOCKET, serve_local_api
from .credentials import RuntimeCredentials

log = logging.getLogger("overcast.agent")


@dataclass
class AgentConfig:
    host_id: str
    underlay_ip: str
    controllers: list[str]
    dataplane: str = "memory"
    socket: Path = DEFAULT_SOCKET
    tls: TlsFiles | None = None
    tls_server_name: str | None = None
    #: A network namespace acting as this host (its underlay; VXLAN sockets live there).
    host_netns: str | None = None
    #: The directory user whose rights this host's runtimes act with.
    credentials: RuntimeCredentials | None = None
    #: Serve Prometheus metrics here (HOST:PORT).
    metrics_listen: str | None = None
    #: Seconds between counter reports to the controller (0: none).
    stats_interval: float = 10.0
    #: HOST:PORT of a syslog server (UDP) that also gets every forwarded flow record.
    flow_syslog: str | None = None


def syslog_handler(address: str) -> logging.Handler:
    """Flow records to a syslog server over UDP (RFC 3164 lines as Python's handler writes
    them: ``<PRI>overcast-flow: {json}``), facility local0."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--flow-syslog {address!r}: give HOST:PORT")
    handler = logging.handlers.SysLogHandler(
        address=(host, int(port)), facility=logging.handlers.SysLogHandler.LOG_LOCAL0
    )
    handler.ident = "overcast-flow: "
    return handler


def parse_controllers(text: str) -> list[str]:
    """``HOST:PORT[,HOST:PORT...]`` -> addresses (checked, so a typo fails at start)."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        host, sep, port = item.rpartition(":")
        if not item or not sep or not host or not port.isdigit():
            raise ValueError(f"--controller takes HOST:PORT[,HOST:PORT...], not {text!r}")
        out.append(item)
    return out


def make_dataplane(
    kind: str, host_id: str, underlay_ip: str = "", host_netns: str | None = None
) -> Dataplane:
    if kind == "memory":
        from ..dataplane.memory import MemoryDataplane

        return MemoryDataplane(host_id)
    if kind == "linux":
        import os

        from ..dataplane.linux.driver import LinuxDataplane

        if os.geteuid() != 0:
            raise ValueError("--dataplane linux needs root (network namespaces, netlink, nftables)")
        if host_netns is not None and not os.path.exists(f"/run/netns/{host_netns}"):
            raise ValueError(f"--host-netns {host_netns}: no such network namespace")
        return LinuxDataplane(host_id, underlay_ip, host_netns=host_netns)
    raise ValueError(f"--dataplane is memory or linux, not {kind!r}")


async def run_agent(config: AgentConfig, *, stop: asyncio.Event | None = None) -> None:
    agent = Agent(
        config.host_id,
        config.underlay_ip,
        config.controllers,
        make_dataplane(config.dataplane, config.host_id, config.underlay_ip, config.host_netns),
        tls=config.tls,
        tls_server_name=config.tls_server_name,
        credentials=config.credentials,
        stats_interval=config.stats_interval,
        flow_syslog=syslog_handler(config.flow_syslog) if config.flow_syslog else None,
    )
    metrics_server = None
    if config.metrics_listen is not None:
        from ..metrics import AgentMetrics, serve

        metrics = AgentMetrics(agent)
        agent.on_programmed = lambda seconds, outcome: metrics.apply.labels(outcome=outcome).observe(seconds)
        metrics_server = serve(metrics.registry, config.metrics_listen)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(agent.run(), name="session"),
        asyncio.create_task(serve_local_api(agent, config.socket), name="local-api"),
    ]
    log.info("agent %s (%s) serving %s", config.host_id, config.underlay_ip, config.socket)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    agent.stop()
    for task in [*tasks, stopper]:
        task.cancel()
    await asyncio.gather(*tasks, stopper, return_exceptions=True)
    if metrics_server is not None:
        metrics_server.shutdown()
    for task in done:
        error = None if task is stopper or task.cancelled() else task.exception()
        if error is not None:
            raise error
