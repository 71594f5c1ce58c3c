"""podman 4.3 with the CNI backend, isolated per simulated host (container-runtimes.md §1–2):
its own configuration, storage and plugin directory, run under ``nsenter --net`` in the host's
namespace. Used by the CNI tests and ``overcast bench containers``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..demo.application import Tenant
from .system import http_probe


@dataclass
class Podman:
    host_ns: str
    env: dict[str, str]

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.host_ns}", "podman", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {result.stderr}{result.stdout}")
        return result

    def start(self, name: str, network: str, *command: str) -> None:
        """``podman run -d`` of the test image on ``network``."""
        self("run", "-d", "--name", name, "--network", network, "localhost/bbox:latest", *command)

    def ip(self, container: str, network: str) -> str:
        data = json.loads(self("inspect", container).stdout)[0]
        return str(data["NetworkSettings"]["Networks"][network]["IPAddress"])

    def reaches(self, container: str, address: str, port: int) -> bool:
        """A real HTTP request from inside ``container`` (busybox nc, 2 s)."""
        result = self("exec", container, "sh", "-c", http_probe(address, port), check=False)
        return result.returncode == 0 and "overcast" in result.stdout


def overcast_networks(tenants: Iterable[Tenant], socket: Path) -> dict[str, dict[str, Any]]:
    """A conflist per tenant tier: network ``<enterprise>-<tier>`` on overcast-cni."""
    return {
        f"{tenant.enterprise}-{tier.name}": {
            "cniVersion": "1.0.0",
            "name": f"{tenant.enterprise}-{tier.name}",
            "plugins": [
                {
                    "type": "overcast-cni",
                    "enterprise": tenant.enterprise,
                    "domain": "wordpress",
                    "zone": tier.name,
                    "subnet": tier.name,
                    "policyGroups": [tier.name],
                    "agentSocket": str(socket),
                }
            ],
        }
        for tenant in tenants
        for tier in tenant.tiers
    }


def podman_for(work: Path, host_ns: str, networks: dict[str, dict[str, Any]], image: Path) -> Podman:
    """A podman of its own for one simulated host, with ``networks`` (name -> conflist) and the
    image ``localhost/bbox:latest`` imported from ``image``."""
    (work / "bin").mkdir(parents=True)
    (work / "bin" / "overcast-cni").symlink_to(Path(sys.executable).with_name("overcast-cni"))
    (work / "net.d").mkdir()
    for name, conf in networks.items():
        (work / "net.d" / f"{name}.conflist").write_text(json.dumps(conf))
    (work / "containers.conf").write_text(f"""
[containers]
# no CAP_SYS_RESOURCE here: podman's rootful rlimit defaults make the runtime fail setrlimit
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["{work / "bin"}", "/usr/lib/cni"]
network_config_dir = "{work / "net.d"}"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{work / "events.log"}"
tmp_dir = "{work / "tmp"}"
""")
    (work / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\nrunroot = "{work / "run"}"\ngraphroot = "{work / "root"}"\n'
    )
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(work),
        "CONTAINERS_CONF": str(work / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(work / "storage.conf"),
    }
    podman = Podman(host_ns, env)
    podman("import", "--change", 'CMD ["/bin/sh"]', str(image), "localhost/bbox:latest")
    return podman
