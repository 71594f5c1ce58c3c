"""``overcast bench gateway`` (root): how fast the routers learn and forget floating IPs, what
many of them cost a gateway, and what a gateway's death costs the routes.

Setup (not timed): a lab — two hosts on an underlay (198.18.0.0/24), FRR 8.4 as the router
(AS 65000), two gateway namespaces — and a directory (SQLite) holding the controller
benchmark's topology with endpoints bound to the two hosts (their underlay addresses are the
next hops), a floating-IP pool and ``--samples + --fips`` floating IPs allocated. The gateways
are ``overcast gateway`` processes (AS 65100, gobgpd each).

Measured:

* ``assign_to_fib``: one floating IP assigned to a vport (the directory commit) until FRR's
  kernel table routes it to the endpoint's host; ``withdraw_from_fib``: unassigned until the
  route is gone — p50/p99 over ``--samples``, one at a time;
* ``bulk``: ``--fips`` floating IPs assigned one after another as fast as the directory takes
  them, from the first commit until FRR's table routes every one; the gateway's and its
  gobgpd's CPU seconds and peak resident memory over the whole run;
* ``failover``: two gateways announcing; kill -9 of one gateway process (its gobgpd dies with
  it, its session drops): the longest time a floating IP was missing from FRR's FIB, polled
  every 10 ms for 5 s (the routers keep the other gateway's identical path: 0 expected).

* ``throughput`` (first, in a lab of its own): iperf3 from an outside client to an endpoint
  through its host's NAT (the floating IP) against the same path routed (its subnet
  advertised), ``--iperf-seconds`` per run, three runs each, alternating; the ratio.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..directory.db import Store, migrate
from ..directory.service import SYSTEM, Directory
from ..lab import Lab, sh
from ..lab.frr import Frr
from ..testing.processes import Service
from .controller import Topology, _peak_rss_mb
from .stats import cpu_seconds, machine, summary_ms
from .throughput import measure_north_south

ROUTER, ROUTER_AS, GATEWAY_AS = "198.18.0.254", 65000, 65100
GATEWAYS = {"gw1": "198.18.0.253", "gw2": "198.18.0.252"}
POOL = ("100.64.0.0", "255.255.248.0", "100.64.0.1")  # 2,045 floating IPs
TARGETS = {"assign_to_fib_p99_ms": 1000.0, "failover_gap_seconds": 3.0, "ratio_nat_vs_routed": 0.85}


def _routed(router: str, prefix: str) -> bool:
    return bool(json.loads(sh("ip", "-j", "-n", router, "route", "show", prefix).stdout or "[]"))


def _wait(predicate: Any, what: str, timeout: float = 60.0, interval: float = 0.002) -> float:
    """Seconds until ``predicate()`` holds (polled every ``interval``)."""
    began = time.perf_counter()
    while not predicate():
        if time.perf_counter() - began > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - began


def _children(pid: int) -> list[int]:
    out = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(Path(f"/proc/{entry}/stat").read_text().rsplit(") ", 1)[1].split()[1]) == pid:
                out.append(int(entry))
        except (OSError, IndexError):
            continue
    return out


def run(output: str, *, samples: int = 100, fips: int = 1000, iperf_seconds: float = 5.0) -> dict[str, Any]:
    if os.geteuid() != 0:
        raise RuntimeError("overcast bench gateway needs root (network namespaces)")
    if not (shutil.which("gobgpd") and Path("/usr/lib/frr/bgpd").exists()):
        raise RuntimeError("overcast bench gateway needs gobgpd and FRR (apt install gobgpd frr)")
    throughput = measure_north_south(iperf_seconds) if iperf_seconds > 0 else None
    workdir = Path(tempfile.mkdtemp(prefix="overcast-bench-gateway-"))
    lab = Lab()
    gateways: dict[str, Service] = {}
    frr: Frr | None = None
    try:
        topology = _setup(workdir, lab, samples + fips)
        router, _client, _ = lab.outside(router=ROUTER)
        frr = Frr(router, ROUTER_AS, ROUTER)
        frr.start(dict.fromkeys(GATEWAYS.values(), GATEWAY_AS), default_originate=False)
        url = f"sqlite:///{workdir / 'directory.db'}"
        for name, address in GATEWAYS.items():
            gateways[name] = Service(
                ["gateway", "--database", url, "--asn", str(GATEWAY_AS), "--router-id", address,
                 "--peer", f"{ROUTER}:{ROUTER_AS}", "--bgp-netns", lab.host(name, address),
                 "--state-dir", str(workdir / name)],
                workdir / f"{name}.log",
            )  # fmt: skip
        frr_ready = frr
        _wait(lambda: set(frr_ready.session_states().values()) == {"Established"}
              and len(frr_ready.session_states()) == 2, "both gateways' sessions", interval=0.1)  # fmt: skip
        directory, vports, fip_ids, addresses = topology
        gateway_pid = gateways["gw1"].process.pid
        (speaker_pid,) = _children(gateway_pid) or [0]
        cpu_before = {pid: cpu_seconds(pid) for pid in (gateway_pid, speaker_pid) if pid}

        def assign(index: int, fip: str | None) -> None:
            directory.update(
                SYSTEM, "vports", vports[index], {"associatedFloatingIPID": fip or ""}, confirmed=True
            )

        learn, forget = [], []
        for i in range(samples):
            route = f"{addresses[i]}/32"
            began = time.perf_counter()
            assign(i, fip_ids[i])
            _wait(lambda r=route: _routed(router, r), "a floating IP in FRR's FIB")
            learn.append(time.perf_counter() - began)
            began = time.perf_counter()
            assign(i, None)
            _wait(lambda r=route: not _routed(router, r), "a withdrawal from FRR's FIB")
            forget.append(time.perf_counter() - began)

        began = time.perf_counter()
        for i in range(samples, samples + fips):
            assign(i, fip_ids[i])
        committed = time.perf_counter() - began
        wanted = {f"{a}/32" for a in addresses[samples:]}
        _wait(lambda: wanted <= set(frr_ready.fib()), f"{fips} floating IPs in FRR's FIB", timeout=300,
              interval=0.05)  # fmt: skip
        converged = time.perf_counter() - began
        cpu = {pid: round(cpu_seconds(pid) - cpu_before[pid], 2) for pid in cpu_before}
        memory = {pid: _peak_rss_mb(pid) for pid in cpu_before}

        # Failover: kill -9 of gw1's process; sample one floating IP's presence every 10 ms.
        probe = f"{addresses[samples]}/32"
        gaps: list[float] = []
        missing_since: list[float | None] = [None]
        stop = threading.Event()

        def sampler() -> None:
            while not stop.is_set():
                now = time.perf_counter()
                present = _routed(router, probe)
                if not present and missing_since[0] is None:
                    missing_since[0] = now
                elif present and missing_since[0] is not None:
                    gaps.append(now - missing_since[0])
                    missing_since[0] = None
                time.sleep(0.01)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        time.sleep(0.5)
        os.kill(gateway_pid, signal.SIGKILL)
        gateways["gw1"].process.wait()
        dropped = _wait(lambda: frr_ready.session_states().get(GATEWAYS["gw1"]) != "Established",
                        "gw1's session to drop", timeout=30, interval=0.05)  # fmt: skip
        time.sleep(5)
        stop.set()
        thread.join()
        if missing_since[0] is not None:
            gaps.append(time.perf_counter() - missing_since[0])
        still_routed = _routed(router, probe)
    finally:
        for service in gateways.values():
            if service.process.poll() is None:
                service.stop()
        if frr is not None:
            frr.stop()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
    report: dict[str, Any] = {
        "benchmark": "gateway",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "samples": samples,
        "assign_to_fib": summary_ms(learn),
        "withdraw_from_fib": summary_ms(forget),
        "bulk": {
            "floating_ips": fips,
            "directory_commits_seconds": round(committed, 2),
            "all_in_fib_seconds": round(converged, 2),
            "gateway_cpu_seconds": cpu.get(gateway_pid),
            "gobgpd_cpu_seconds": cpu.get(speaker_pid),
            "gateway_peak_rss_mb": memory.get(gateway_pid),
            "gobgpd_peak_rss_mb": memory.get(speaker_pid),
        },
        "failover": {
            "session_dropped_after_seconds": round(dropped, 2),
            "longest_gap_seconds": round(max(gaps, default=0.0), 3),  # 0: never missing
            "route_kept": still_routed,
        },
        "throughput": throughput,
        "targets": TARGETS,
    }
    gap = round(max(gaps, default=0.0), 3)
    report["met"] = {
        "assign_to_fib_p99_ms": summary_ms(learn)["p99_ms"] <= TARGETS["assign_to_fib_p99_ms"],
        "failover_gap_seconds": gap <= TARGETS["failover_gap_seconds"] and still_routed,
    }
    if throughput is not None:
        report["met"]["ratio_nat_vs_routed"] = (
            throughput["ratio_nat_vs_routed"] >= TARGETS["ratio_nat_vs_routed"]
        )
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report


def _setup(workdir: Path, lab: Lab, count: int) -> tuple[Directory, list[str], list[str], list[str]]:
    """The hosts, the directory's topology with ``count`` bound endpoints, and ``count``
    floating IPs allocated: (directory, vport IDs, floating-IP IDs, their addresses)."""
    store = Store(f"sqlite:///{workdir / 'directory.db'}")
    migrate(store)
    directory = Directory(store)
    topology = Topology(directory, hosts=2, endpoints=count, groups=1, per_group=0)
    for index, host in enumerate(topology.hosts, 1):
        lab.host(f"h{index}", topology.vtep(host))
    topology.build()
    vports: list[str] = []
    for subnet in topology.subnets:
        page = 0
        while True:
            listed = directory.listing(SYSTEM, "subnets", subnet["ID"], "vports", page=page, page_size=500)
            vports += [v["ID"] for v in listed.items]
            if len(listed.items) < 500:
                break
            page += 1
    pool = directory.create(SYSTEM, "me", None, "sharednetworkresources",
                            {"name": "bench-pool", "type": "FLOATING", "address": POOL[0], "netmask": POOL[1],
                             "gateway": POOL[2]})  # fmt: skip
    enterprise = topology.domain["parentID"]
    directory.update(SYSTEM, "enterprises", enterprise, {"floatingIPsQuota": count}, confirmed=True)
    floating: list[dict[str, Any]] = []
    for start in range(0, count, 1000):
        bodies = [{"associatedSharedNetworkResourceID": pool["ID"]}] * min(1000, count - start)
        results = directory.bulk_create(SYSTEM, "domains", topology.domain["ID"], "floatingips", bodies)
        failed = [body for status, body in results if status >= 300]
        if failed:
            raise RuntimeError(f"allocating floating IPs failed: {failed[0]}")
        floating += [body for _status, body in results]
    return directory, vports[:count], [f["ID"] for f in floating], [f["address"] for f in floating]
