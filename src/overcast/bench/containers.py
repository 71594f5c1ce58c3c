"""``overcast bench containers``: podman container start to network-ready, Overcast's CNI plugin
against the reference ``bridge`` + ``host-local`` plugins, in the same run (root).

One simulated host runs the whole system (directory, controller, agent on the Linux dataplane)
and a podman of its own. Containers are started alternately on an Overcast network and on a
reference bridge network; each sample is the wall time of ``podman run -d`` — it returns once
the CNI ADD has completed, which for Overcast means the directory holds the endpoint and the
agent has programmed the datapath for it (traffic passes). Afterwards every container must get
an ICMP echo answered by its gateway (verified, not timed).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ..demo import deploy_tenant
from ..demo.application import Flow, Tenant, Tier
from ..lab import unanswered
from ..testing.podman import overcast_networks, podman_for
from ..testing.system import busybox_image, running_system
from .stats import machine, summary_ms

TARGET_RATIO = 1.5
TENANT = Tenant("benchcorp", (Tier("web", "10.90.0.0", 80),), (), (Flow("web", "web", 80),))


def reference_network(data_dir: Path) -> dict[str, Any]:
    """The reference plugins as podman's own networks use them: a bridge and host-local IPAM."""
    ipam = {
        "type": "host-local",
        "dataDir": str(data_dir),
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": "10.91.0.0/24", "gateway": "10.91.0.1"}]],
    }
    return {
        "cniVersion": "0.4.0",
        "name": "reference",
        "plugins": [
            {"type": "bridge", "bridge": "obench0", "isGateway": True, "ipMasq": False, "ipam": ipam}
        ],
    }


def run(output: str, *, containers: int = 50) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="overcast-bench-containers-") as tmp:
        work = Path(tmp)
        with running_system(work, hosts=("h1",)) as system:
            deploy_tenant(system.client, TENANT)
            networks = overcast_networks((TENANT,), system.sockets["h1"])
            networks["reference"] = reference_network(work / "ipam")
            podman = podman_for(
                work / "podman", system.host_ns["h1"], networks, busybox_image(work / "image")
            )
            try:
                samples: dict[str, list[float]] = {"overcast": [], "reference": []}
                gateways = {"overcast": "10.90.0.1", "reference": "10.91.0.1"}
                names: dict[str, list[str]] = {"overcast": [], "reference": []}
                for index in range(containers):
                    for kind, network in (("overcast", "benchcorp-web"), ("reference", "reference")):
                        name = f"{kind}-{index}"
                        began = time.perf_counter()
                        podman.start(name, network, "sleep", "3600")
                        samples[kind].append(time.perf_counter() - began)
                        names[kind].append(name)
                silent = {}
                for kind in samples:
                    namespaces = [_netns(podman, name) for name in names[kind]]
                    silent[kind] = len(unanswered(namespaces, gateways[kind]))
            finally:
                podman("rm", "-af", "-t", "0", check=False)
    overcast, reference_ms = summary_ms(samples["overcast"]), summary_ms(samples["reference"])
    ratio = round(overcast["p50_ms"] / reference_ms["p50_ms"], 3)
    report = {
        "benchmark": "containers",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "containers_per_plugin": containers,
        "podman_run_overcast": overcast,
        "podman_run_reference_bridge": reference_ms,
        "ratio_p50": ratio,
        "ratio_p99": round(overcast["p99_ms"] / reference_ms["p99_ms"], 3),
        "unreachable": silent,
        "target_ratio": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO and not any(silent.values()),
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report


def _netns(podman: Any, container: str) -> str:
    """The container's network namespace path (podman's ``netns-...`` under /run/netns)."""
    data = json.loads(podman("inspect", container).stdout)[0]
    return str(data["NetworkSettings"]["SandboxKey"])
