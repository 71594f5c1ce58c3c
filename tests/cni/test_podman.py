"""podman 4.3 with the CNI backend and overcast-cni, on two simulated hosts (root).

Each host is a network namespace with its own agent (Linux dataplane) and its own podman
(isolated configuration and storage, run under ``nsenter --net``), as container-runtimes.md §1–2
describes for this machine. The image is a busybox-static rootfs imported locally (no registry).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from overcast.client.vsd import VsdClient
from overcast.demo import deploy_tenant
from overcast.demo.application import Flow, Tenant, Tier
from overcast.lab import can_run
from overcast.testing.system import busybox_image, http_probe, running_system

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (can_run() and shutil.which("podman") and shutil.which("runc") and Path("/bin/busybox").exists()),
        reason="needs root, podman, runc and busybox-static (make test installs them)",
    ),
]

SHOP = Tenant(
    "podshop",
    (Tier("web", "10.60.1.0", 80), Tier("db", "10.60.2.0", 3306)),
    (),
    (Flow("web", "web", 80), Flow("web", "db", 3306)),
)
RIVAL = Tenant("podrival", (Tier("web", "10.60.1.0", 80),), (), (Flow("web", "web", 80),))


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

    def ip(self, container: str, network: str) -> str:
        data = json.loads(self("inspect", container).stdout)[0]
        return str(data["NetworkSettings"]["Networks"][network]["IPAddress"])

    def reaches(self, container: str, address: str, port: int) -> bool:
        """A real HTTP request from inside ``container`` (busybox nc, 2 s; busybox-static's wget
        crashes resolving names)."""
        result = self("exec", container, "sh", "-c", http_probe(address, port), check=False)
        return result.returncode == 0 and "overcast" in result.stdout


def _podman_for(work: Path, host_ns: str, socket: Path, image: Path) -> Podman:
    (work / "bin").mkdir(parents=True)
    (work / "bin" / "overcast-cni").symlink_to(Path(sys.executable).with_name("overcast-cni"))
    (work / "net.d").mkdir()
    for tenant in (SHOP, RIVAL):
        for tier in tenant.tiers:
            conf = {
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
            (work / "net.d" / f"{tenant.enterprise}-{tier.name}.conflist").write_text(json.dumps(conf))
    (work / "containers.conf").write_text(f"""
[containers]
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
        **os.environ,
        "CONTAINERS_CONF": str(work / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(work / "storage.conf"),
    }
    podman = Podman(host_ns, env)
    podman("import", "--change", 'CMD ["/bin/sh"]', str(image), "localhost/bbox:latest")
    return podman


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Podman], VsdClient]]:
    tmp = tmp_path_factory.mktemp("podman")
    podmans: dict[str, Podman] = {}
    with running_system(tmp) as system:
        try:
            image = busybox_image(tmp / "image")
            for short, host_ns in system.host_ns.items():
                podmans[short] = _podman_for(tmp / f"podman-{short}", host_ns, system.sockets[short], image)
            deploy_tenant(system.client, SHOP)
            deploy_tenant(system.client, RIVAL)
            yield podmans, system.client
        finally:
            for podman in podmans.values():
                podman("rm", "-af", "-t", "0", check=False)


def run(podman: Podman, name: str, network: str) -> None:
    podman(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "localhost/bbox:latest",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    )


def test_podman_containers_on_two_hosts_follow_policy(hosts: tuple[dict[str, Podman], VsdClient]) -> None:
    podmans, client = hosts
    h1, h2 = podmans["h1"], podmans["h2"]
    run(h1, "web1", "podshop-web")
    run(h2, "web2", "podshop-web")
    run(h2, "db1", "podshop-db")
    run(h1, "rival1", "podrival-web")
    web1, web2 = h1.ip("web1", "podshop-web"), h2.ip("web2", "podshop-web")
    db1, rival1 = h2.ip("db1", "podshop-db"), h1.ip("rival1", "podrival-web")
    assert web1.startswith("10.60.1.") and db1.startswith("10.60.2.")
    assert h1.reaches("web1", web2, 80) and h2.reaches("web2", web1, 80)  # one subnet, two hosts
    assert not h2.reaches("db1", web1, 80)  # db -> web: no rule
    assert not h1.reaches("rival1", web2, 80)  # another tenant, same addresses
    assert h1.reaches("rival1", rival1, 80)  # (its own address answers: the probe works)

    # stop/start: DEL, then ADD in a new namespace; the same endpoint comes back.
    h2("stop", "-t", "0", "web2")
    assert not h1.reaches("web1", web2, 80)
    h2("start", "web2")
    assert h1.reaches("web1", h2.ip("web2", "podshop-web"), 80)

    # network connect: a second interface in the db subnet, policy per network.
    h1("network", "connect", "podshop-db", "web1")
    assert h1.ip("web1", "podshop-db").startswith("10.60.2.")
    assert h1("exec", "web1", "ip", "-4", "addr", "show", "eth1").returncode == 0

    # podman rm: the vport and the container leave the directory, the address is free again.
    h2("rm", "-f", "-t", "0", "web2")
    assert not [c for c in client.list_all("containers") if c["name"] == "web2"]
    run(h2, "web3", "podshop-web")
    assert h2.ip("web3", "podshop-web") == web2
