"""``overcast bench controller``: initial fan-out, single-add latency and controller memory.

Setup (not timed): a directory store holding one enterprise and domain, a subnet per host,
100 policy groups and 700 ACL entries (7 per group, each naming another group and a port),
and ``--endpoints`` containers spread evenly over ``--hosts`` hosts, each in one group and
bound to its host (as agents' attach reports would have done).

Measured:

* ``controller_start_seconds``: ``overcast controller`` (its own process) from exec until it
  answers, i.e. it has loaded the snapshot and compiled every domain;
* ``fanout_seconds``: ``--hosts`` agents (real gRPC sessions, memory dataplane; spread over
  ``--agent-processes`` processes, one per core by default, as hosts would each have their own)
  start together; done when every agent holds a state whose digest equals a fresh compile of
  the directory for its host;
* ``add``: one more endpoint, ``--samples`` times: from the commit that binds it to its host
  until the last affected agent has applied (and acknowledged) the revision;
* ``controller_rss_mb``: the controller process's peak resident memory (VmHWM).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import multiprocessing
import os
import queue
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

from ..agent.agent import Agent
from ..agent.credentials import CSPROOT
from ..client.vsd import xrest
from ..dataplane.memory import MemoryDataplane
from ..directory.controller_interface import EndpointClaim, claim_endpoints, register_host
from ..directory.db import Store, migrate
from ..directory.service import SYSTEM, Directory
from ..protocol import controller_pb2 as pb
from ..protocol import controller_pb2_grpc as pb_grpc
from ..protocol.codec import digest_of
from ..testing.cluster import expected_host_entries
from ..testing.ports import free_port
from ..testing.postgres import throwaway_postgres
from ..testing.processes import Service
from .stats import machine, summary_ms

TARGETS = {"fanout_seconds": 10.0, "add_p99_ms": 250.0, "controller_rss_mb": 1024.0}


@contextmanager
def _store_url(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'directory.db'}"
    elif backend == "postgresql":
        with throwaway_postgres("bench_controller") as url:
            yield url
    else:
        raise ValueError(f"--database is sqlite or postgresql, not {backend!r}")


class Topology:
    """The directory content of the benchmark, created through the directory's own service."""

    def __init__(self, directory: Directory, hosts: int, endpoints: int, groups: int, per_group: int) -> None:
        self.directory = directory
        self.hosts = [f"host-{i + 1:03d}" for i in range(hosts)]
        self.per_host = math.ceil(endpoints / hosts)
        self.endpoints = endpoints
        self.groups_count = groups
        self.per_group = per_group
        self.subnets: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        self.acl_entries = 0
        self.serial = 0

    def create(
        self, parent: str, parent_id: str | None, resource: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self.directory.create(SYSTEM, parent, parent_id, resource, body)

    def build(self) -> None:
        ent = self.create("me", None, "enterprises", {"name": f"bench-{uuid.uuid4().hex[:6]}"})
        template = self.create("enterprises", ent["ID"], "domaintemplates", {"name": "t"})
        self.domain = self.create(
            "enterprises", ent["ID"], "domains", {"name": "d", "templateID": template["ID"]}
        )
        zone = self.create("domains", self.domain["ID"], "zones", {"name": "z"})
        prefix_len = 32 - math.ceil(math.log2(self.per_host + 3 + 100))  # room for the steady adds
        for index, host in enumerate(self.hosts):
            network = ipaddress.IPv4Network(
                f"10.{index // 16}.{(index % 16) * 16}.0/{prefix_len}", strict=False
            )
            self.subnets.append(
                self.create(
                    "zones",
                    zone["ID"],
                    "subnets",
                    {"name": host, "address": str(network.network_address), "netmask": str(network.netmask)},
                )
            )
        for g in range(self.groups_count):
            self.groups.append(self.create("domains", self.domain["ID"], "policygroups", {"name": f"g{g}"}))
        ingress = self.create(
            "domains",
            self.domain["ID"],
            "ingressacltemplates",
            {"name": "tiers", "active": True, "priority": 1},
        )
        self.create(
            "domains",
            self.domain["ID"],
            "egressacltemplates",
            {"name": "open", "active": True, "priority": 1, "defaultAllowIP": True},
        )
        entries = [
            {
                "action": "FORWARD",
                "etherType": "0x0800",
                "DSCP": "*",
                "locationType": "POLICYGROUP",
                "locationID": self.groups[g]["ID"],
                "networkType": "POLICYGROUP",
                "networkID": self.groups[(g + k + 1) % self.groups_count]["ID"],
                "protocol": "6",
                "sourcePort": "*",
                "destinationPort": str(8000 + k),
                "stateful": True,
                "priority": g * self.per_group + k,
            }
            for g in range(self.groups_count)
            for k in range(self.per_group)
        ]
        for start in range(0, len(entries), 500):
            self._bulk(
                "ingressacltemplates", ingress["ID"], "ingressaclentrytemplates", entries[start : start + 500]
            )
        self.acl_entries = len(entries)
        for host in self.hosts:
            register_host(self.directory, host, self.vtep(host), now_ms=1)
        members: dict[str, list[str]] = {g["ID"]: [] for g in self.groups}
        for index in range(len(self.hosts)):
            count = min(self.per_host, self.endpoints - index * self.per_host)
            if count <= 0:
                break
            for vport, _mac in self.add_endpoints(index, count, bind=True):
                members[self.groups[self.serial % self.groups_count]["ID"]].append(vport)
                self.serial += 1
        for group_id, vports in members.items():
            self.directory.assign(SYSTEM, "policygroups", group_id, "vports", vports)

    def vtep(self, host: str) -> str:
        return str(ipaddress.IPv4Address("198.18.0.1") + self.hosts.index(host))

    def _bulk(
        self, parent: str, parent_id: str | None, resource: str, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        results = self.directory.bulk_create(SYSTEM, parent, parent_id, resource, items)
        failed = [body for status, body in results if status >= 300]
        if failed:
            raise RuntimeError(f"creating {resource} failed: {failed[0]}")
        return [body for _status, body in results]

    def add_endpoints(self, host_index: int, count: int, *, bind: bool) -> list[tuple[str, str]]:
        subnet = self.subnets[host_index]
        out: list[tuple[str, str]] = []
        for start in range(0, count, 500):
            n = min(500, count - start)
            vports = self._bulk(
                "subnets",
                subnet["ID"],
                "vports",
                [
                    {"name": uuid.uuid4().hex[:12], "type": "CONTAINER", "addressSpoofing": "INHERITED"}
                    for _ in range(n)
                ],
            )
            macs = [f"02:{os.urandom(5).hex(':')}" for _ in vports]
            self._bulk(
                "me",
                None,
                "containers",
                [
                    {
                        "name": v["name"],
                        "UUID": str(uuid.uuid4()),
                        "interfaces": [{"MAC": m, "VPortID": v["ID"]}],
                    }
                    for v, m in zip(vports, macs, strict=True)
                ],
            )
            pairs = [(v["ID"], m) for v, m in zip(vports, macs, strict=True)]
            if bind:
                results = claim_endpoints(
                    self.directory,
                    self.hosts[host_index],
                    [EndpointClaim(v, m, True) for v, m in pairs],
                    now_ms=2,
                    principal=SYSTEM,
                )
                if not all(r.ok for r in results):
                    raise RuntimeError(f"binding failed: {next(r.error for r in results if not r.ok)}")
            out.extend(pairs)
        return out


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def _controller_status(address: str) -> pb.StatusReply:
    """The controller's Status, asked as csproot (the benchmarks' directories keep its password)."""
    metadata = (("authorization", xrest("csproot", "csproot")), ("x-nuage-organization", "csp"))
    async with grpc.aio.insecure_channel(address) as channel:
        return await pb_grpc.ControllerStub(channel).Status(pb.StatusRequest(), timeout=5, metadata=metadata)


def _agent_worker(hosts: list[tuple[str, str]], address: str, events: Any, go: Any, stop: Any) -> None:
    """A process simulating some of the hosts: one agent each, memory dataplane, real gRPC.
    Each applied update is reported as (host, revision, digest, monotonic time of the ack)."""

    def applied(agent: Agent, update: pb.Update) -> None:
        events.put((agent.host_id, update.revision, agent.state.digest, time.perf_counter()))

    async def main() -> None:
        agents = [
            Agent(
                host,
                vtep,
                [address],
                MemoryDataplane(host),
                claim_timeout=60,
                on_applied=applied,
                credentials=CSPROOT,
            )
            for host, vtep in hosts
        ]
        await asyncio.to_thread(go.wait)
        tasks = [asyncio.create_task(agent.run()) for agent in agents]
        await asyncio.to_thread(stop.wait)
        for agent in agents:
            agent.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def _bind(topology: Topology, host: str, claim: EndpointClaim) -> tuple[int, float]:
    """Bind one endpoint; return the revision and the moment it committed."""
    claim_endpoints(topology.directory, host, [claim], now_ms=3, principal=SYSTEM)
    return topology.directory.head_revision(), time.perf_counter()


def _measure(
    topology: Topology, address: str, samples: int, expected: dict[str, int], processes: int
) -> dict[str, Any]:
    # perf_counter is CLOCK_MONOTONIC: comparable between the processes of one machine.
    context = multiprocessing.get_context("spawn")
    events, go, stop = context.Queue(), context.Event(), context.Event()
    hosts = [(h, topology.vtep(h)) for h in topology.hosts]
    workers = [
        context.Process(
            target=_agent_worker, args=(hosts[i::processes], address, events, go, stop), daemon=True
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    latest: dict[str, tuple[int, int, float]] = {}

    def drain(until: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise RuntimeError("agents did not converge in time")
            try:
                host, revision, digest, when = events.get(timeout=1.0)
            except queue.Empty:
                continue
            latest[host] = (revision, digest, when)

    try:
        time.sleep(3.0)  # let the workers import and build their agents before the clock starts
        started = time.perf_counter()
        go.set()
        ready_at: dict[str, float] = {}

        def all_ready() -> bool:
            for host, (_rev, digest, when) in latest.items():
                if host not in ready_at and digest == expected.get(host, 0):
                    ready_at[host] = when - started
            return len(ready_at) == len(hosts)

        drain(all_ready, 600)
        latencies: list[float] = []
        for sample in range(samples):
            host_index = sample % len(topology.hosts)
            [(vport, mac)] = topology.add_endpoints(host_index, 1, bind=False)
            group = topology.groups[sample % topology.groups_count]["ID"]
            topology.directory.assign(SYSTEM, "vports", vport, "policygroups", [group])
            revision, committed = _bind(topology, topology.hosts[host_index], EndpointClaim(vport, mac, True))
            acked: dict[str, float] = {}

            def all_acked(revision: int = revision, acked: dict[str, float] = acked) -> bool:
                for host, (rev, _digest, when) in latest.items():
                    if rev >= revision and host not in acked:
                        acked[host] = when
                return len(acked) == len(hosts)

            drain(all_acked, 60)
            latencies.append(max(acked.values()) - committed)
        status = asyncio.run(_controller_status(address))
    finally:
        stop.set()
        go.set()
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    return {
        "agent_processes": processes,
        "fanout_seconds": round(max(ready_at.values()), 3),
        "fanout_first_agent_seconds": round(min(ready_at.values()), 3),
        "add": summary_ms(latencies),
        "hosts_in_sync": sum(h.in_sync for h in status.hosts),
    }


def run(
    output: str,
    *,
    hosts: int = 40,
    endpoints: int = 20000,
    samples: int = 100,
    groups: int = 100,
    per_group: int = 7,
    backend: str = "sqlite",
    agent_processes: int | None = None,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="overcast-bench-controller-"))
    try:
        with _store_url(backend, workdir) as url:
            store = Store(url)
            migrate(store)
            directory = Directory(store)
            topology = Topology(directory, hosts, endpoints, groups, per_group)
            began = time.perf_counter()
            topology.build()
            populate = time.perf_counter() - began
            expected_entries = expected_host_entries(directory)
            expected = {h: digest_of(e.items()) for h, e in expected_entries.items()}
            entries_per_host = max((len(e) for e in expected_entries.values()), default=0)
            del expected_entries
            port = free_port()
            address = f"127.0.0.1:{port}"
            began = time.perf_counter()
            controller = Service(
                ["controller", "--database", url, "--listen", address, "--host-grace", "600", "--insecure"],
                workdir / "controller.log",
            )
            try:
                controller.wait_until(
                    lambda: asyncio.run(_controller_status(address)) is not None,
                    "the controller",
                    timeout=300,
                )
                controller_start = time.perf_counter() - began
                processes = agent_processes or os.cpu_count() or 1
                figures = _measure(topology, address, samples, expected, min(processes, hosts))
                rss = _peak_rss_mb(controller.process.pid)
            finally:
                controller.stop()
            store.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "benchmark": "controller",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "database": backend,
        "hosts": hosts,
        "endpoints": endpoints,
        "policy_groups": groups,
        "acl_entries": topology.acl_entries,
        "entries_per_host": entries_per_host,
        "populate_seconds": round(populate, 1),
        "controller_start_seconds": round(controller_start, 3),
        **figures,
        "controller_rss_mb": rss,
        "verified": figures["hosts_in_sync"] == hosts,
        "targets": TARGETS,
    }
    report["met"] = {
        "fanout_seconds": report["fanout_seconds"] < TARGETS["fanout_seconds"],
        "add_p99_ms": report["add"]["p99_ms"] < TARGETS["add_p99_ms"],
        "controller_rss_mb": rss < TARGETS["controller_rss_mb"],
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report
