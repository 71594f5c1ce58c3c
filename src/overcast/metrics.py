"""Prometheus metrics of every service (the official ``prometheus_client``).

Each service keeps its own :class:`~prometheus_client.CollectorRegistry` (several services can
share a process in tests and benchmarks). What a service already knows — revisions, sessions,
counts — is read when Prometheus scrapes, by a collector over the live objects (nothing is
bookkept twice on the hot paths); what only exists as it happens — request, transaction and
apply latencies — is observed into histograms as it happens. Names follow Prometheus's
conventions: ``overcast_<service>_<what>_<unit>``, ``_total`` for counters, base units.

The directory serves ``/metrics`` on its API port (unauthenticated, as scrapers expect: the
figures are aggregates; no label carries a tenant's name); the controller, agents and
gateways serve it on ``--metrics-listen HOST:PORT``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .agent.agent import Agent
    from .controller.service import ControllerService
    from .gateway.service import GatewayService

#: Latency buckets (seconds) from a millisecond to ten seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT``: every address) → (host, port); ValueError otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--metrics-listen takes HOST:PORT, not {text!r}")
    return host or "0.0.0.0", int(port)


def serve(registry: CollectorRegistry, listen: str) -> Any:
    """Serve ``/metrics`` for the registry on ``listen`` from a thread; returns the server
    (``.shutdown()`` stops it)."""
    host, port = listen_address(listen)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


class Timer:
    """``with timer.time(label=...)``: observe the block's duration into a histogram."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def observe(self, seconds: float, **labels: str) -> None:
        (self.histogram.labels(**labels) if labels else self.histogram).observe(seconds)


# --- the directory ---------------------------------------------------------------------------


class DirectoryMetrics:
    """Requests by method, route and status; write transactions by outcome; compliance
    judging; the change log's head (read at scrape time)."""

    def __init__(self, head_revision: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "overcast_directory_request_duration_seconds",
            "API requests: time from receipt to response, by method, route template and status.",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.transactions = Histogram(
            "overcast_directory_transaction_duration_seconds",
            "Write transactions (the work, compliance judging, the commit), by outcome.",
            ["outcome"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.compliance = Histogram(
            "overcast_directory_compliance_duration_seconds",
            "Judging a write against the compliance policies it touches.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_HeadCollector(head_revision))


class _HeadCollector(Collector):
    def __init__(self, head_revision: Callable[[], int]) -> None:
        self.head_revision = head_revision

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "overcast_directory_changelog_revision",
            "The change log's newest revision.",
            value=self.head_revision(),
        )


# --- the controller --------------------------------------------------------------------------


class ControllerMetrics(Collector):
    """The controller's view of its hosts, read from the service when scraped, and the time
    its batches of changes take to compile and send."""

    def __init__(self, service: ControllerService, head_revision: Callable[[], int]) -> None:
        self.service, self.head_revision = service, head_revision
        self.registry = CollectorRegistry()
        self.apply = Histogram(
            "overcast_controller_apply_duration_seconds",
            "A batch of change-log rows: compiled and each affected host's update queued.",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(self)

    def collect(self) -> Iterator[Any]:
        service = self.service
        revision = service.revision
        yield GaugeMetricFamily(
            "overcast_controller_revision", "The change-log revision compiled.", value=revision
        )
        yield GaugeMetricFamily(
            "overcast_controller_changelog_lag",
            "Change-log revisions committed but not compiled yet.",
            value=max(0, self.head_revision() - revision),
        )
        sessions = dict(service.sessions)  # a copy: the event loop changes it meanwhile
        hosts = set(service.engine.hosts()) | set(sessions)
        states = {"in_sync": 0, "behind": 0, "disconnected": 0}
        behind = GaugeMetricFamily(
            "overcast_controller_host_revisions_behind",
            "Per host: revisions sent but not acknowledged as applied.",
            labels=["host"],
        )
        ack_age = GaugeMetricFamily(
            "overcast_controller_host_last_ack_age_seconds",
            "Per connected host: seconds since its last acknowledgement (or since it connected).",
            labels=["host"],
        )
        refusals = GaugeMetricFamily(
            "overcast_controller_host_refusals", "Per host: updates refused in a row.", labels=["host"]
        )
        now = time.monotonic()
        for host in sorted(hosts):
            session = sessions.get(host)
            if session is None:
                states["disconnected"] += 1
                continue
            states["in_sync" if session.in_sync else "behind"] += 1
            behind.add_metric([host], max(0, session.sent_revision - session.applied_revision))
            ack_age.add_metric([host], now - session.last_ack)
            refusals.add_metric([host], session.refusals)
        hosts_family = GaugeMetricFamily(
            "overcast_controller_hosts", "Hosts by session state.", labels=["state"]
        )
        for state, count in states.items():
            hosts_family.add_metric([state], count)
        yield from (hosts_family, behind, ack_age, refusals)
        stats, flows = service.statistics, service.flows
        yield CounterMetricFamily(
            "overcast_controller_statistics_reports",
            "Counter reports received from hosts.",
            value=stats.reports,
        )
        yield CounterMetricFamily(
            "overcast_controller_statistics_rows_written",
            "Statistics samples written to the store.",
            value=stats.rows_written,
        )
        yield CounterMetricFamily(
            "overcast_controller_statistics_rows_lost",
            "Statistics samples dropped because the store was away too long.",
            value=stats.rows_lost,
        )
        yield GaugeMetricFamily(
            "overcast_controller_flow_records_kept",
            "Flow records kept for overcast flows.",
            value=len(flows.records),
        )
        yield CounterMetricFamily(
            "overcast_controller_flow_records_not_sent_by_hosts",
            "Flow records hosts held back (their rate limit).",
            value=flows.dropped_by_hosts,
        )


# --- the agent ---------------------------------------------------------------------------------


class AgentMetrics(Collector):
    """The agent's session and what it applied, read when scraped; update apply times and
    dataplane failures as they happen."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.registry = CollectorRegistry()
        self.apply = Histogram(
            "overcast_agent_apply_duration_seconds",
            "Programming the dataplane with a batch of updates (one dataplane change).",
            ["outcome"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(self)

    def collect(self) -> Iterator[Any]:
        agent = self.agent
        yield GaugeMetricFamily(
            "overcast_agent_applied_revision", "The revision the datapath holds.", value=agent.state.revision
        )
        yield GaugeMetricFamily(
            "overcast_agent_session_connected",
            "1 while a controller session is up.",
            value=1 if agent.controller is not None else 0,
        )
        yield CounterMetricFamily(
            "overcast_agent_updates_applied",
            "Updates applied (snapshots included).",
            value=agent.updates_applied,
        )
        yield CounterMetricFamily(
            "overcast_agent_snapshots_applied", "Snapshots applied.", value=agent.snapshots_applied
        )
        yield CounterMetricFamily(
            "overcast_agent_dataplane_changes",
            "Changes programmed into the dataplane.",
            value=agent.dataplane_changes,
        )
        yield CounterMetricFamily(
            "overcast_agent_dataplane_failures",
            "Changes the dataplane refused (the updates were refused to the controller).",
            value=agent.dataplane_failures,
        )
        yield GaugeMetricFamily(
            "overcast_agent_local_endpoints", "Endpoints running on this host.", value=len(agent.state.local)
        )
        yield from domain_traffic(agent.counted)
        yield CounterMetricFamily(
            "overcast_agent_flow_records",
            "Flow records made from the datapath's logs.",
            value=agent.flows.logged,
        )
        yield CounterMetricFamily(
            "overcast_agent_flow_records_not_forwarded",
            "Flow records kept here only (over the forwarding rate limit).",
            value=agent.flows.dropped_total,
        )


def domain_traffic(counted: Mapping[str, Mapping[str, Any]]) -> Iterator[Any]:
    """The datapath's counters summarised per domain (as last read for the statistics report):
    packets and bytes the domain's endpoints here sent (``in``) and received (``out``), and
    packets their policy dropped."""
    packets = CounterMetricFamily(
        "overcast_agent_domain_packets",
        "Per domain: packets of its endpoints here.",
        labels=["domain", "direction"],
    )
    octets = CounterMetricFamily(
        "overcast_agent_domain_bytes",
        "Per domain: bytes of its endpoints here.",
        labels=["domain", "direction"],
    )
    dropped = CounterMetricFamily(
        "overcast_agent_domain_dropped_packets",
        "Per domain: packets its policy dropped here.",
        labels=["domain", "direction"],
    )
    for domain_id, counts in sorted(counted.items()):
        totals = {name: [0, 0] for name in ("sent", "received", "dropped_sent", "dropped_received")}
        for sets in counts.get("endpoints", {}).values():
            for name, values in sets.items():
                if name in totals:
                    totals[name][0] += values[0]
                    totals[name][1] += values[1]
        for direction, name in (("in", "sent"), ("out", "received")):
            packets.add_metric([domain_id, direction], totals[name][0])
            octets.add_metric([domain_id, direction], totals[name][1])
            dropped.add_metric([domain_id, direction], totals[f"dropped_{name}"][0])
    yield from (packets, octets, dropped)


# --- the gateway -------------------------------------------------------------------------------


class GatewayMetrics(Collector):
    """What the gateway announces, and its BGP sessions as last recorded."""

    def __init__(self, service: GatewayService) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Iterator[Any]:
        service = self.service
        yield GaugeMetricFamily(
            "overcast_gateway_routes_announced",
            "Prefixes announced to the routers.",
            value=len(service.announced),
        )
        yield GaugeMetricFamily(
            "overcast_gateway_revision", "The change-log revision applied.", value=service.revision
        )
        sessions = GaugeMetricFamily(
            "overcast_gateway_bgp_session_up",
            "Per peer: 1 while its BGP session is established.",
            labels=["peer"],
        )
        for peer, state in sorted(dict(service.sessions).items()):
            sessions.add_metric([peer], 1 if state == "established" else 0)
        yield sessions
        yield GaugeMetricFamily(
            "overcast_gateway_speaker_running",
            "1 while gobgpd runs.",
            value=1 if service.speaker.running else 0,
        )
