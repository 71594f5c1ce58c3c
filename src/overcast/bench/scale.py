"""``overcast bench scale``: the 2014 scale demo, end to end — 20,000 containers with 7 ACL
entries each (140,000 expanded) on 40 hosts, through the real REST API and the real
controller↔agent protocol.

Processes: ``overcast directory`` and ``overcast controller`` (each its own process) and the 40
agents (real gRPC sessions, memory dataplane) spread over one worker process per core, as hosts
would each have their own.

Setup (reported, not in the total): one enterprise, a domain from a template, a zone, a subnet
per host sized for its containers, 100 policy groups, 700 ingress ACL entries (7 per group, each
naming another group and a port).

Timed (``total_seconds``): host by host, the containers are created the way an orchestrator
would — bulk vports, bulk containers with their interface (the directory allocates the
addresses) — and handed to that host's agent, which attaches them (the controller binds them in
the directory and fans the policy out); then the 100 policy groups get their members. Done when
every agent has acknowledged a state whose digest equals a fresh compile of the directory for
its host — not by counting messages.

Then steady state: one more container ``--samples`` times (create, group, attach), from the
container's creation commit to the last agent's acknowledgement of a state that includes it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import multiprocessing
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..agent.agent import Agent
from ..agent.credentials import CSPROOT
from ..client.vsd import VsdClient
from ..dataplane.base import Attachment
from ..dataplane.memory import MemoryDataplane
from ..directory.db import Store
from ..directory.service import Directory
from ..process import tune_garbage_collector
from ..protocol import controller_pb2 as pb
from ..protocol.codec import digest_of
from ..testing.cluster import expected_host_entries
from ..testing.ports import free_port
from ..testing.processes import Service, logged_in
from .controller import _controller_status, _peak_rss_mb, _store_url
from .directory import LeanClient
from .stats import cpu_seconds, machine, summary_ms

TARGETS = {"total_seconds": 60.0, "steady_add_p99_ms": 250.0, "controller_rss_mb": 1536.0}
BASELINE_2014 = {"containers": 20000, "hosts": 40, "acl_entries_expanded": 140000, "total_seconds": 480.0}


# --- the agents' side (worker processes) -----------------------------------------------------------


def _agent_worker(hosts: list[tuple[str, str]], address: str, events: Any, commands: Any, stop: Any) -> None:
    """Agents for some hosts. Reports (``"applied"``, host, revision, digest, time) per update
    acknowledged and (``"attached"``, host, count, revision, time) per batch of attaches; runs
    (host, [(vport, mac)]) attach commands from ``commands``."""
    tune_garbage_collector()  # as `overcast agent` does

    def applied(agent: Agent, update: pb.Update) -> None:
        events.put(("applied", agent.host_id, update.revision, agent.state.digest, time.perf_counter()))

    async def attach(agent: Agent, endpoints: list[tuple[str, str]]) -> None:
        limit = asyncio.Semaphore(100)

        async def one(vport: str, mac: str) -> None:
            async with limit:
                await agent.attach(Attachment(vport, mac))

        await asyncio.gather(*(one(v, m) for v, m in endpoints))
        events.put(("attached", agent.host_id, len(endpoints), agent.state.revision, time.perf_counter()))

    async def main() -> None:
        agents = {
            host: Agent(
                host,
                vtep,
                [address],
                MemoryDataplane(host),
                claim_timeout=300,
                on_applied=applied,
                credentials=CSPROOT,
            )
            for host, vtep in hosts
        }
        tasks = [asyncio.create_task(agent.run()) for agent in agents.values()]
        work: list[asyncio.Task[None]] = []
        while not stop.is_set():
            try:
                host, endpoints = await asyncio.to_thread(commands.get, True, 0.5)
            except queue.Empty:
                continue
            work.append(asyncio.create_task(attach(agents[host], endpoints)))
        await asyncio.gather(*work, return_exceptions=True)
        for agent in agents.values():
            agent.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


# --- the orchestrator's side ---------------------------------------------------------------------


class Orchestrator:
    """Creates everything through the REST API (bulk where the API allows it), on one keep-alive
    connection — opened again when the server has closed it while idle."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url, self.api_key = url, api_key
        self.client = LeanClient(url, api_key)

    def _call(self, method: str, path: str, body: Any) -> tuple[int, Any, float]:
        try:
            return self.client.call(method, path, body)
        except (ConnectionError, http.client.HTTPException):
            self.client.conn.close()
            self.client = LeanClient(self.url, self.api_key)
            return self.client.call(method, path, body)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, data, _ = self._call(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {str(data)[:300]}")
        return data

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", path, body)[0])

    def bulk(self, path: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(items), 500):
            status, data, _ = self._call("POST", path, items[start : start + 500])
            if status != 201:
                raise RuntimeError(f"bulk POST {path}: {status} {str(data)[:300]}")
            out += [element["data"] for element in data["response"]]
        return out


def _endpoints(orchestrator: Orchestrator, subnet_id: str, count: int) -> list[tuple[str, str]]:
    """``count`` containers in a subnet: bulk vports, then bulk containers with one interface."""
    vports = orchestrator.bulk(
        f"subnets/{subnet_id}/vports",
        [
            {"name": uuid.uuid4().hex[:12], "type": "CONTAINER", "addressSpoofing": "INHERITED"}
            for _ in range(count)
        ],
    )
    macs = [f"02:{os.urandom(5).hex(':')}" for _ in vports]
    orchestrator.bulk(
        "containers",
        [
            {"name": v["name"], "UUID": str(uuid.uuid4()), "interfaces": [{"MAC": m, "VPortID": v["ID"]}]}
            for v, m in zip(vports, macs, strict=True)
        ],
    )
    return [(v["ID"], m) for v, m in zip(vports, macs, strict=True)]


def _cpu_seconds(pid: int) -> float:
    return round(cpu_seconds(pid), 1)


def run(
    output: str,
    *,
    hosts: int = 40,
    containers: int = 20000,
    acls_per_container: int = 7,
    groups: int = 100,
    samples: int = 100,
    database: str = "sqlite",
    chart: str | None = None,
    agent_processes: int | None = None,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="overcast-bench-scale-"))
    per_host = math.ceil(containers / hosts)
    with _store_url(database, workdir) as url:
        port, address = free_port(), f"127.0.0.1:{free_port()}"
        directory = Service(
            ["directory", "--listen", f"127.0.0.1:{port}", "--database", url],
            workdir / "d.log",
            {"OVERCAST_CSPROOT_PASSWORD": "csproot"},
        )
        controller: Service | None = None
        workers: list[Any] = []
        context = multiprocessing.get_context("spawn")
        events, stop = context.Queue(), context.Event()
        try:
            directory.wait_until(logged_in(f"http://127.0.0.1:{port}"), "the directory", timeout=120)
            session = VsdClient(f"http://127.0.0.1:{port}")
            session.login()
            assert session.api_key is not None
            orchestrator = Orchestrator(f"http://127.0.0.1:{port}", session.api_key)
            began = time.perf_counter()
            topology = _setup(orchestrator, hosts, per_host, groups, acls_per_container)
            setup_seconds = time.perf_counter() - began
            controller = Service(
                ["controller", "--database", url, "--listen", address, "--host-grace", "600", "--insecure"],
                workdir / "c.log",
            )
            controller.wait_until(
                lambda: asyncio.run(_controller_status(address)) is not None, "the controller", timeout=300
            )
            names = [f"host-{i + 1:03d}" for i in range(hosts)]
            vteps = {h: f"198.18.{i // 250}.{i % 250 + 1}" for i, h in enumerate(names)}
            processes = min(agent_processes or os.cpu_count() or 1, hosts)
            commands = [context.Queue() for _ in range(processes)]
            owner = {h: i % processes for i, h in enumerate(names)}
            for i in range(processes):
                mine = [(h, vteps[h]) for h in names if owner[h] == i]
                workers.append(
                    context.Process(
                        target=_agent_worker, args=(mine, address, events, commands[i], stop), daemon=True
                    )
                )
                workers[-1].start()
            tracker = _Tracker(events, names)
            tracker.drain(
                lambda: len(tracker.latest) == hosts, 120
            )  # every agent has its first (empty) state

            # The timed run: create host by host, each host's agent attaching while the next is created.
            profilers = [
                _Profiler(name, service.process.pid, workdir)
                for name, service in (("directory", directory), ("controller", controller))
            ]
            created_at: dict[str, float] = {}
            started = time.perf_counter()
            members: dict[str, list[str]] = {g: [] for g in topology["groups"]}
            group_ids = list(topology["groups"])
            serial = 0
            for index, host in enumerate(names):
                count = min(per_host, containers - index * per_host)
                if count <= 0:
                    break
                pairs = _endpoints(orchestrator, topology["subnets"][index], count)
                for vport, _mac in pairs:
                    members[group_ids[serial % len(group_ids)]].append(vport)
                    serial += 1
                commands[owner[host]].put((host, pairs))
                created_at[host] = time.perf_counter()
            created = time.perf_counter() - started
            for group_id, vports in members.items():
                orchestrator.call("PUT", f"policygroups/{group_id}/vports", vports)
            assigned = time.perf_counter() - started
            tracker.drain(lambda: tracker.attached_total >= containers, 900)
            attached = time.perf_counter() - started
            store = Store(url)
            expected = {h: digest_of(e.items()) for h, e in expected_host_entries(Directory(store)).items()}
            store.dispose()
            tracker.drain(
                lambda: all(tracker.latest.get(h, (0, 0, 0.0))[1] == expected.get(h, 0) for h in names), 300
            )
            converged_at = max(tracker.latest[h][2] for h in names)
            profile = {p.name: p.stop() for p in profilers}
            ready_seconds = [
                tracker.attached_at[h] - created_at[h]
                for h in created_at
                for _ in range(min(per_host, containers - names.index(h) * per_host))
            ]
            total = converged_at - started
            verified = all(tracker.latest[h][1] == expected.get(h, 0) for h in names)
            ready_curve = sorted((when - started, count) for when, count in tracker.attach_times)

            # Steady state.
            latencies = []
            for sample in range(samples):
                host = names[sample % hosts]
                [(vport, mac)] = _endpoints(orchestrator, topology["subnets"][names.index(host)], 1)
                committed = time.perf_counter()
                orchestrator.call("PUT", f"vports/{vport}/policygroups", [group_ids[sample % len(group_ids)]])
                before = tracker.attached_total
                commands[owner[host]].put((host, [(vport, mac)]))
                tracker.drain(partial(tracker.attached_more_than, before), 60)
                revision = tracker.last_attach_revision
                tracker.drain(partial(tracker.all_at, revision), 60)
                latencies.append(max(tracker.acked_at(h, revision) for h in names) - committed)
            status = asyncio.run(_controller_status(address))
            cpu = {
                "directory": _cpu_seconds(directory.process.pid),
                "controller": _cpu_seconds(controller.process.pid),
            }
            rss = {
                "directory": _peak_rss_mb(directory.process.pid),
                "controller": _peak_rss_mb(controller.process.pid),
                "agent_processes_max": max(_peak_rss_mb(w.pid) for w in workers),
            }
            cpu["agent_processes"] = round(sum(_cpu_seconds(w.pid) for w in workers), 1)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
                if worker.is_alive():
                    worker.kill()
            if controller is not None:
                controller.stop()
            directory.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    expanded = containers * acls_per_container
    report: dict[str, Any] = {
        "benchmark": "scale",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "database": database,
        "dataplane": "memory",
        "hosts": hosts,
        "containers": containers,
        "policy_groups": groups,
        "acl_entries": topology["acl_entries"],
        "acl_entries_expanded": expanded,
        "setup_seconds": round(setup_seconds, 1),
        "total_seconds": round(total, 1),
        "phases_seconds": {
            "created": round(created, 1),
            "groups_assigned": round(assigned, 1),
            "attached": round(attached, 1),
            "converged": round(total, 1),
        },
        "containers_per_second": round(containers / total, 1),
        "acl_entries_per_second": round(expanded / total, 1),
        "steady_add_p50_ms": summary_ms(latencies)["p50_ms"] if latencies else None,
        "steady_add_p99_ms": summary_ms(latencies)["p99_ms"] if latencies else None,
        "controller_rss_mb": rss["controller"],
        "directory_rss_mb": rss["directory"],
        "agent_process_rss_mb": rss["agent_processes_max"],
        "agent_processes": len(workers),
        "ready_latency_per_container_ms": summary_ms(ready_seconds),
        "cpu_seconds": cpu,
        "profile_top_self_time": profile,
        "hosts_in_sync": sum(h.in_sync for h in status.hosts),
        "verified": verified,
        "baseline_2014": BASELINE_2014,
        "speedup_vs_2014": round(BASELINE_2014["total_seconds"] / total, 1),
        "targets": TARGETS,
    }
    report["met"] = {
        "total_seconds": total <= TARGETS["total_seconds"],
        "steady_add_p99_ms": bool(latencies) and report["steady_add_p99_ms"] <= TARGETS["steady_add_p99_ms"],
        "controller_rss_mb": rss["controller"] <= TARGETS["controller_rss_mb"],
    }
    if chart:
        _chart(chart, ready_curve, report)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report


class _Profiler:
    """py-spy sampling a process for the timed run (when py-spy is installed): its top frames by
    self time, as a share of the samples."""

    def __init__(self, name: str, pid: int, workdir: Path) -> None:
        self.name, self.output = name, workdir / f"{name}.pyspy"
        tool = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.process = None
        if Path(tool).exists():
            self.process = subprocess.Popen(
                [
                    tool,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "20",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "-o",
                    str(self.output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self, top: int = 8) -> dict[str, Any] | str:
        """Top frames by self time, and Overcast's own functions by inclusive time."""
        if self.process is None:
            return "not profiled: py-spy is not installed (pip install 'overcast[bench]')"
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        own: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for line in self.output.read_text().splitlines() if self.output.exists() else []:
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames, samples = stack.split(";"), int(count)
            own[frames[-1]] = own.get(frames[-1], 0) + samples
            for frame in {f for f in frames if "overcast/" in f}:
                inclusive[frame] = inclusive.get(frame, 0) + samples
            total += samples

        def ranked(counts: dict[str, int]) -> list[dict[str, Any]]:
            best = sorted(counts.items(), key=lambda item: -item[1])[:top]
            return [{"frame": frame, "share": round(n / total, 3)} for frame, n in best]

        return {"self": ranked(own), "overcast_inclusive": ranked(inclusive)} if total else {}


class _Tracker:
    """What the agents report, kept per host."""

    def __init__(self, events: Any, hosts: list[str]) -> None:
        self.events, self.hosts = events, hosts
        self.latest: dict[str, tuple[int, int, float]] = {}  # host -> (revision, digest, time)
        self.history: dict[str, list[tuple[int, float]]] = {h: [] for h in hosts}
        self.attached_total = 0
        self.attach_times: list[tuple[float, int]] = []
        self.attached_at: dict[str, float] = {}  # host -> when its first batch was all attached
        self.last_attach_revision = 0

    def drain(self, until: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise RuntimeError("the agents did not get there in time")
            try:
                event = self.events.get(timeout=1.0)
            except queue.Empty:
                continue
            if event[0] == "applied":
                _, host, revision, digest, when = event
                self.latest[host] = (revision, digest, when)
                self.history[host].append((revision, when))
            else:
                _, host, count, revision, when = event
                self.attached_at.setdefault(host, when)
                self.attached_total += count
                self.attach_times.append((when, count))
                self.last_attach_revision = revision

    def attached_more_than(self, count: int) -> bool:
        return self.attached_total > count

    def all_at(self, revision: int) -> bool:
        return all(self.latest.get(h, (0, 0, 0.0))[0] >= revision for h in self.hosts)

    def acked_at(self, host: str, revision: int) -> float:
        return next(when for rev, when in self.history[host] if rev >= revision)


def _setup(
    orchestrator: Orchestrator, hosts: int, per_host: int, groups: int, per_group: int
) -> dict[str, Any]:
    enterprise = orchestrator.create("enterprises", {"name": f"scale-{uuid.uuid4().hex[:6]}"})
    template = orchestrator.create(f"enterprises/{enterprise['ID']}/domaintemplates", {"name": "t"})
    domain = orchestrator.create(
        f"enterprises/{enterprise['ID']}/domains", {"name": "d", "templateID": template["ID"]}
    )
    zone = orchestrator.create(f"domains/{domain['ID']}/zones", {"name": "z"})
    prefix = 32 - math.ceil(math.log2(per_host + 3 + 128))  # room for the steady-state adds
    size = 2 ** (32 - prefix)
    subnets = []
    for index in range(hosts):
        base = (10 << 24) + (64 << 16) + index * size
        address = ".".join(str(base >> shift & 255) for shift in (24, 16, 8, 0))
        netmask = ".".join(str((0xFFFFFFFF << (32 - prefix)) >> shift & 255) for shift in (24, 16, 8, 0))
        subnets.append(
            orchestrator.create(
                f"zones/{zone['ID']}/subnets",
                {"name": f"host-{index + 1:03d}", "address": address, "netmask": netmask},
            )["ID"]
        )
    group_ids = orchestrator.bulk(
        f"domains/{domain['ID']}/policygroups", [{"name": f"g{g}"} for g in range(groups)]
    )
    ingress = orchestrator.create(
        f"domains/{domain['ID']}/ingressacltemplates", {"name": "tiers", "active": True}
    )
    orchestrator.create(
        f"domains/{domain['ID']}/egressacltemplates", {"name": "open", "active": True, "defaultAllowIP": True}
    )
    entries = [
        {
            "action": "FORWARD",
            "etherType": "0x0800",
            "DSCP": "*",
            "locationType": "POLICYGROUP",
            "locationID": group_ids[g]["ID"],
            "networkType": "POLICYGROUP",
            "networkID": group_ids[(g + k + 1) % groups]["ID"],
            "protocol": "6",
            "sourcePort": "*",
            "destinationPort": str(8000 + k),
            "stateful": True,
            "priority": g * per_group + k,
        }
        for g in range(groups)
        for k in range(per_group)
    ]
    orchestrator.bulk(f"ingressacltemplates/{ingress['ID']}/ingressaclentrytemplates", entries)
    return {"subnets": subnets, "groups": [g["ID"] for g in group_ids], "acl_entries": len(entries)}


def _chart(path: str, ready: list[tuple[float, int]], report: dict[str, Any]) -> None:
    """Endpoints attached over time (seconds since the first container was created, count),
    with the phases marked (matplotlib, when installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report["chart"] = "not drawn: matplotlib is not installed (pip install 'overcast[bench]')"
        return
    if not ready:
        return
    xs, ys, total = [0.0], [0], 0
    for seconds, count in ready:
        total += count
        xs.append(seconds)
        ys.append(total)
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.step(xs, ys, where="post", label="endpoints attached")
    # Phases that end together share one marker (converged usually ends with the last attach).
    ends: dict[float, list[str]] = {}
    for name, seconds in report["phases_seconds"].items():
        ends.setdefault(seconds, []).append(name.replace("_", " "))
    for seconds, names in ends.items():
        axes.axvline(seconds, linestyle=":", color="grey")
        axes.text(seconds, total * 0.35, " = ".join(names), rotation=90, fontsize=8, ha="right", va="bottom")
    axes.set_xlabel("seconds since the first container was created")
    axes.set_ylabel("endpoints")
    axes.set_title(
        f"{report['containers']} containers, {report['hosts']} hosts: "
        f"{report['total_seconds']} s (2014: {BASELINE_2014['total_seconds']:.0f} s)"
    )
    axes.legend(loc="upper left")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    report["chart"] = path


# --- the real-datapath variant ---------------------------------------------------------------------


def run_linux(
    output: str,
    *,
    hosts: int = 4,
    containers: int = 1000,
    acls_per_container: int = 7,
    groups: int = 100,
    database: str = "sqlite",
    attach_per_host: int = 32,
) -> dict[str, Any]:
    """``--dataplane linux``: simulated hosts (namespaces on an underlay bridge), each with its
    agent as a process on the Linux dataplane; container namespaces made beforehand, as a runtime
    would have; timed from the first REST create until every container has been attached (veth,
    address, route, neighbours, firewall) and answers from its gateway; digests verified."""
    from concurrent.futures import ThreadPoolExecutor

    from ..agent.client import AgentClient, agent_connected
    from ..cni.plugin import Agent as CniAgent
    from ..lab import Lab, unanswered

    if os.geteuid() != 0:
        raise RuntimeError("--dataplane linux needs root (network namespaces)")
    workdir = Path(tempfile.mkdtemp(prefix="overcast-bench-scale-linux-"))
    per_host = math.ceil(containers / hosts)
    lab = Lab()
    services: list[Service] = []
    try:
        with _store_url(database, workdir) as url:
            port, address = free_port(), f"127.0.0.1:{free_port()}"
            services.append(
                Service(
                    ["directory", "--listen", f"127.0.0.1:{port}", "--database", url],
                    workdir / "d.log",
                    {"OVERCAST_CSPROOT_PASSWORD": "csproot"},
                )
            )
            services[0].wait_until(logged_in(f"http://127.0.0.1:{port}"), "the directory", timeout=120)
            session = VsdClient(f"http://127.0.0.1:{port}")
            session.login()
            assert session.api_key is not None
            orchestrator = Orchestrator(f"http://127.0.0.1:{port}", session.api_key)
            topology = _setup(orchestrator, hosts, per_host, groups, acls_per_container)
            services.append(
                Service(
                    ["controller", "--database", url, "--listen", address, "--insecure"], workdir / "c.log"
                )
            )
            names = [f"{lab.tag}h{i + 1}" for i in range(hosts)]
            sockets = {}
            for i, name in enumerate(names):
                host_ns = lab.host(f"h{i + 1}", f"10.99.0.{i + 1}")
                sockets[name] = workdir / f"{name}.sock"
                services.append(
                    Service(
                        [
                            "agent",
                            "--insecure",
                            "--credentials",
                            str(CSPROOT.write(workdir / "credentials.toml")),
                            "--controller",
                            address,
                            "--host-id",
                            name,
                            "--underlay-ip",
                            f"10.99.0.{i + 1}",
                            "--dataplane",
                            "linux",
                            "--host-netns",
                            host_ns,
                            "--socket",
                            str(sockets[name]),
                        ],
                        workdir / f"agent-{name}.log",
                    )
                )
            for service, name in zip(services[2:], names, strict=True):
                service.wait_until(partial(agent_connected, sockets[name]), f"agent {name}")
            namespaces = [lab.container(f"s{i}") for i in range(containers)]

            attach_seconds: list[float] = []
            created_at: list[float] = []

            def attach(job: tuple[str, str, str, str]) -> None:
                name, vport, mac, netns = job
                began = time.perf_counter()
                # What a runtime's plugin sends (the CNI plugin's lean HTTP/1.0 exchange): the
                # harness shares the two CPUs with the system it measures.
                CniAgent(str(sockets[name]), timeout=300).call(
                    "/endpoints", {"vport_id": vport, "mac": mac, "netns": netns, "ifname": "eth0"}
                )
                attach_seconds.append(time.perf_counter() - began)

            members: dict[str, list[str]] = {g: [] for g in topology["groups"]}
            started = time.perf_counter()
            # Each host's runtime starts its containers as a burst: ``attach_per_host`` attach
            # requests in flight per host, each answered once its datapath is programmed.
            with ThreadPoolExecutor(max_workers=attach_per_host * hosts) as pool:
                futures = []
                serial = 0
                for index, name in enumerate(names):
                    count = min(per_host, containers - index * per_host)
                    pairs = _endpoints(orchestrator, topology["subnets"][index], count)
                    created_at.append(time.perf_counter() - started)
                    for vport, mac in pairs:
                        members[topology["groups"][serial % len(topology["groups"])]].append(vport)
                        futures.append(pool.submit(attach, (name, vport, mac, namespaces[serial])))
                        serial += 1
                for group_id, vports in members.items():
                    orchestrator.call("PUT", f"policygroups/{group_id}/vports", vports)
                assigned = time.perf_counter() - started
                for future in futures:
                    future.result()
            attached = time.perf_counter() - started
            gateways = {}
            for index in range(hosts):
                subnet = orchestrator.call("GET", f"subnets/{topology['subnets'][index]}")[0]
                gateways[index] = subnet["gateway"]
            silent = sum(
                len(unanswered(namespaces[i * per_host : (i + 1) * per_host], gateways[i]))
                for i in range(hosts)
            )
            total = time.perf_counter() - started
            cpu = {
                "directory": round(_cpu_seconds(services[0].process.pid), 1),
                "controller": round(_cpu_seconds(services[1].process.pid), 1),
                "agents": round(sum(_cpu_seconds(s.process.pid) for s in services[2:]), 1),
            }
            store = Store(url)
            expected = {h: digest_of(e.items()) for h, e in expected_host_entries(Directory(store)).items()}
            store.dispose()
            digests, applied = {}, {}
            for name in names:
                with AgentClient(sockets[name]) as agent:
                    dump = agent.state()
                digests[name] = int(dump["digest"], 16)
                applied[name] = {
                    "updates": dump["updates_applied"],
                    "dataplane_changes": dump["dataplane_changes"],
                }
            verified = all(digests[n] == expected.get(n, 0) for n in names) and silent == 0
    finally:
        for service in reversed(services):
            service.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "benchmark": "scale",
        "variant": "linux dataplane",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "database": database,
        "dataplane": "linux",
        "hosts": hosts,
        "containers": containers,
        "acl_entries_expanded": containers * acls_per_container,
        "phases_seconds": {
            "created": round(created_at[-1], 2),
            "groups_assigned": round(assigned, 2),
            "attached": round(attached, 2),
            "answered": round(total, 2),
        },
        "cpu_seconds": cpu,
        "agents_applied": applied,
        "attach_in_flight_per_host": attach_per_host,
        "attach_latency": summary_ms(attach_seconds),
        "attached_seconds": round(attached, 1),
        "total_seconds": round(total, 1),
        "containers_per_second": round(containers / total, 1),
        "unreachable": silent,
        "verified": verified,
        "target_containers_per_second": 100.0,
        "met": containers / total >= 100.0,
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report
