"""``overcast bench dataplane``: the Linux dataplane on one simulated host (root only).

* **attach rate** — ``--endpoints`` container namespaces exist (as a runtime would have made
  them); each is attached and its endpoint applied as a one-endpoint delta (veth into the
  container, address, route, neighbour, FDB, firewall set; ``--batch N`` endpoints per delta
  model a burst the controller coalesces), then every container must reach
  its gateway (an ICMP echo from each, all at once). Rate = endpoints / (attach + verification time).
* **membership change** — a policy group's set gains or loses an address ``--samples`` times;
  latency is the apply of that delta (when it returns, the nft transaction is committed).

* **throughput** — iperf3 across hosts with a realistic policy vs. none vs. a plain veth pair
  (:mod:`.throughput`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..dataplane.base import Attachment
from ..dataplane.change import Change
from ..dataplane.linux.driver import LinuxDataplane
from ..lab import Lab, unanswered
from ..policy.compiler import (
    Defaults,
    DomainInfo,
    Endpoint,
    Key,
    Rule,
    RuleSet,
    Subnet,
    endpoint_key,
    rules_key,
    set_entries,
    subnet_key,
)
from ..protocol.codec import encode_entry
from . import throughput
from .stats import machine, summary_ms

TARGETS = {"attach_per_second": 150.0, "throughput_ratio": 0.85}
DOMAIN, SUBNET, GROUP = "bench-domain", "bench-subnet", "pg:bench-group"


def _change(entries: dict[Key, Any], *, snapshot: bool = False, removals: set[Key] | None = None) -> Change:
    return Change(snapshot, {k: encode_entry(k, v) for k, v in entries.items()}, removals or set())


def run(
    output: str, *, endpoints: int = 500, samples: int = 50, iperf_seconds: float = 5.0, batch: int = 1
) -> dict[str, Any]:
    if os.geteuid() != 0:
        raise RuntimeError("overcast bench dataplane needs root (network namespaces)")
    lab = Lab()
    dataplane: LinuxDataplane | None = None
    try:
        host_ns = lab.host("h1", "10.99.0.1")
        host_id = f"{lab.tag}h1"
        dataplane = LinuxDataplane(host_id, "10.99.0.1", host_netns=host_ns)
        rule = Rule("allow-web", "FORWARD", GROUP, GROUP, 6, None, (80, 80), None, None, 0x0800, True)
        base: dict[Key, Any] = {
            ("domain", DOMAIN): DomainInfo(DOMAIN, "bench", False),
            subnet_key(
                DOMAIN, Subnet(SUBNET, "zone", "10.20.0.0/20", "10.20.0.1", "02:ac:00:00:00:01", 4242)
            ): (Subnet(SUBNET, "zone", "10.20.0.0/20", "10.20.0.1", "02:ac:00:00:00:01", 4242)),
            rules_key(DOMAIN, "ingress"): RuleSet("ingress", (rule,), Defaults(False, False)),
            rules_key(DOMAIN, "egress"): RuleSet("egress", (rule,), Defaults(False, False)),
        }
        containers = [lab.container(f"e{i}") for i in range(endpoints)]
        members: set[str] = set()
        began = time.perf_counter()
        for first in range(0, endpoints, batch):
            delta: dict[Key, Any] = dict(base) if first == 0 else {}
            added: set[str] = set()
            for index in range(first, min(first + batch, endpoints)):
                vport = f"vport-{index}"
                ip = f"10.20.{(index + 2) // 256}.{(index + 2) % 256}"
                mac = f"02:00:00:00:{(index + 2) // 256:02x}:{(index + 2) % 256:02x}"
                dataplane.attach(Attachment(vport, mac, containers[index]))
                delta[endpoint_key(DOMAIN, vport)] = Endpoint(
                    vport, mac, ip, SUBNET, "zone", host_id, "10.99.0.1"
                )
                added.add(f"{ip}/32")
            members |= added
            # Only the set buckets that changed, as the controller sends them.
            delta.update({k: v for k, v in set_entries(DOMAIN, GROUP, members).items() if v & added})
            dataplane.apply(_change(delta, snapshot=first == 0))
        plumbed = time.perf_counter() - began
        unreachable = unanswered(containers, "10.20.0.1")
        total = time.perf_counter() - began
        latencies = []
        for sample in range(samples):
            cidr = f"10.20.15.{sample + 1}/32"
            grown = members | {cidr} if sample % 2 == 0 else set(members)
            started = time.perf_counter()
            dataplane.apply(_change(set_entries(DOMAIN, GROUP, grown)))
            latencies.append(time.perf_counter() - started)
        report: dict[str, Any] = {
            "benchmark": "dataplane",
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(),
            "endpoints": endpoints,
            "endpoints_per_delta": batch,
            "attach_seconds": round(plumbed, 2),
            "verify_seconds": round(total - plumbed, 2),
            "attach_per_second": round(endpoints / total, 1),
            "unreachable": len(unreachable),
            "membership_change": summary_ms(latencies),
            "targets": TARGETS,
        }
        rate = endpoints / total
        report["met"] = {"attach_per_second": rate >= TARGETS["attach_per_second"]}
    finally:
        if dataplane is not None:
            dataplane.close()
        lab.close()
    if iperf_seconds > 0:
        report["throughput"] = throughput.measure(iperf_seconds)
        ratio = report["throughput"]["ratio_policy_vs_no_rules"]
        report["met"]["throughput_ratio"] = ratio >= TARGETS["throughput_ratio"]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report
