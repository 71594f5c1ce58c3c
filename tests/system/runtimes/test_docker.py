"""dockerd 20.10 with Overcast as its remote network and IPAM driver (root).

dockerd and ``overcast docker-plugin`` run in a simulated host's namespace (as
container-runtimes.md §5 describes for this machine), the plugin discovered through a socket in
``/run/docker/plugins`` under a name unique to the test; the image is a busybox-static rootfs
imported locally."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from overcast.client.vsd import VsdClient
from overcast.demo import deploy_tenant
from overcast.demo.application import Flow, Tenant, Tier
from overcast.lab import can_run
from overcast.testing.system import busybox_image, http_probe, running_system

DOCKER = "/usr/bin/docker"  # Debian's 20.10 client speaks the daemon's API version
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (
            can_run() and shutil.which("dockerd") and Path(DOCKER).exists() and Path("/bin/busybox").exists()
        ),
        reason="needs root, docker.io and busybox-static (make test installs them)",
    ),
]

SHOP = Tenant(
    "dockshop", (Tier("web", "10.70.1.0", 80), Tier("db", "10.70.2.0", 3306)), (), (Flow("web", "db", 3306),)
)


@dataclass
class Docker:
    env: dict[str, str]
    driver: str

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=self.env, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr}{result.stdout}")
        return result

    def ip(self, container: str) -> str:
        networks = json.loads(self("inspect", container).stdout)[0]["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    def reaches(self, container: str, address: str, port: int) -> bool:
        result = self("exec", container, "sh", "-c", http_probe(address, port), check=False)
        return result.returncode == 0 and "overcast" in result.stdout


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Docker, VsdClient]]:
    tmp = tmp_path_factory.mktemp("docker")
    with running_system(tmp, hosts=("h1",)) as system:
        host = f"--net=/run/netns/{system.host_ns['h1']}"
        driver = f"overcast-{system.lab.tag}"
        plugin_socket = Path("/run/docker/plugins") / f"{driver}.sock"
        processes = []
        try:
            processes.append(
                _start(
                    [
                        "nsenter",
                        host,
                        sys.executable,
                        "-m",
                        "overcast",
                        "docker-plugin",
                        "--socket",
                        str(plugin_socket),
                        "--agent-socket",
                        str(system.sockets["h1"]),
                        "--state-dir",
                        str(tmp / "plugin"),
                    ],
                    tmp / "plugin.log",
                )
            )
            socket = tmp / "docker.sock"
            processes.append(
                _start(
                    [
                        "nsenter",
                        host,
                        "dockerd",
                        "--data-root",
                        str(tmp / "root"),
                        "--exec-root",
                        str(tmp / "exec"),
                        "--pidfile",
                        str(tmp / "dockerd.pid"),
                        "-H",
                        f"unix://{socket}",
                        "--iptables=false",
                        "--ip-masq=false",
                        "--bridge=none",
                        "--storage-driver",
                        "overlay2",
                    ],
                    tmp / "dockerd.log",
                )
            )
            client = Docker({**os.environ, "DOCKER_HOST": f"unix://{socket}"}, driver)
            deadline = time.monotonic() + 60
            while client("info", check=False).returncode != 0 or not plugin_socket.exists():
                assert time.monotonic() < deadline, (tmp / "dockerd.log").read_text()[-2000:]
                time.sleep(0.2)
            client("import", "-c", 'CMD ["/bin/sh"]', str(busybox_image(tmp / "image")), "bbox:latest")
            deploy_tenant(system.client, SHOP)
            yield client, system.client
        finally:
            for process in reversed(processes):
                _stop(process)
            plugin_socket.unlink(missing_ok=True)


def network(
    docker: Docker, name: str, tier: str, address: str, *extra: str, check: bool = True, group: bool = True
) -> subprocess.CompletedProcess[str]:
    names = ["enterprise=dockshop", "domain=wordpress", f"zone={tier}", f"subnet={tier}"]
    names += [f"policy_groups={tier}"] if group else []
    options = [part for name_value in names for part in ("-o", name_value)]
    return docker(
        "network",
        "create",
        "-d",
        docker.driver,
        "--ipam-driver",
        docker.driver,
        "--subnet",
        f"{address}/24",
        *options,
        *extra,
        name,
        check=check,
    )


def shop_containers(client: VsdClient) -> list[dict[str, object]]:
    return [c for c in client.list_all("containers") if c.get("enterpriseName") == "dockshop"]


def test_docker_networks_containers_policy_and_clean_up(docker: tuple[Docker, VsdClient]) -> None:
    client, directory = docker
    network(client, "dweb", "web", "10.70.1.0")
    network(client, "ddb", "db", "10.70.2.0")
    client(
        "run",
        "-d",
        "--name",
        "web1",
        "--network",
        "dweb",
        "bbox:latest",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    )
    client(
        "run",
        "-d",
        "--name",
        "db1",
        "--network",
        "ddb",
        "bbox:latest",
        "httpd",
        "-f",
        "-p",
        "3306",
        "-h",
        "/www",
    )
    web1, db1 = client.ip("web1"), client.ip("db1")
    assert web1.startswith("10.70.1.") and db1.startswith("10.70.2.")
    assert len(shop_containers(directory)) == 2  # the directory allocated both addresses
    assert client.reaches("web1", db1, 3306)  # web -> db tcp/3306: the rule
    assert not client.reaches("db1", web1, 80)  # db -> web: nothing allows it

    client("rm", "-f", "web1")
    client("rm", "-f", "db1")
    assert shop_containers(directory) == []  # ReleaseAddress removed container and vport
    client("network", "rm", "dweb", "ddb")


def test_docker_errors_come_back_as_docker_errors(docker: tuple[Docker, VsdClient]) -> None:
    client, _ = docker
    result = client(
        "network",
        "create",
        "-d",
        client.driver,
        "--ipam-driver",
        client.driver,
        "--subnet",
        "10.70.9.0/24",
        "-o",
        "enterprise=dockshop",
        "broken",
        check=False,
    )
    assert result.returncode != 0 and "the network needs" in result.stderr
    result = network(client, "nosuch", "nosuchzone", "10.70.3.0")
    run = client("run", "--rm", "--network", "nosuch", "bbox:latest", "true", check=False)
    assert run.returncode != 0 and "no zone named 'nosuchzone'" in run.stderr
    client("network", "rm", "nosuch")


def test_a_network_can_create_its_subnet(docker: tuple[Docker, VsdClient]) -> None:
    client, directory = docker
    network(client, "dcache", "cache", "10.70.5.0", "-o", "create=true", group=False)
    (subnet,) = [
        s for s in directory.list_all("subnets") if s["name"] == "cache" and s["address"] == "10.70.5.0"
    ]
    client("run", "-d", "--name", "cache1", "--network", "dcache", "bbox:latest", "sleep", "600")
    assert client.ip("cache1").startswith("10.70.5.")
    client("rm", "-f", "cache1")
    client("network", "rm", "dcache")
    # Asking again for the same subnet is fine; for another address it is an error.
    network(client, "dcache2", "cache", "10.70.5.0", "-o", "create=true", group=False)
    refused = network(client, "dcache3", "cache", "10.70.6.0", "-o", "create=true", check=False, group=False)
    assert refused.returncode != 0 and "exists with 10.70.5.0" in refused.stderr
    client("network", "rm", "dcache2")
    assert subnet["ID"]
