"""podman 4.3 with the CNI backend and overcast-cni, on two simulated hosts (root).

Each host is a network namespace with its own agent (Linux dataplane) and its own podman
(isolated configuration and storage, run under ``nsenter --net``), as container-runtimes.md §1–2
describes for this machine. The image is a busybox-static rootfs imported locally (no registry).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.client.vsd import VsdClient
from overcast.demo import deploy_tenant
from overcast.demo.application import Flow, Tenant, Tier
from overcast.lab import can_run
from overcast.testing.podman import Podman, overcast_networks, podman_for
from overcast.testing.system import busybox_image, running_system

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


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Podman], VsdClient]]:
    tmp = tmp_path_factory.mktemp("podman")
    podmans: dict[str, Podman] = {}
    with running_system(tmp) as system:
        try:
            image = busybox_image(tmp / "image")
            for short, host_ns in system.host_ns.items():
                networks = overcast_networks((SHOP, RIVAL), system.sockets[short])
                podmans[short] = podman_for(tmp / f"podman-{short}", host_ns, networks, image)
            deploy_tenant(system.client, SHOP)
            deploy_tenant(system.client, RIVAL)
            yield podmans, system.client
        finally:
            for podman in podmans.values():
                podman("rm", "-af", "-t", "0", check=False)


def run(podman: Podman, name: str, network: str) -> None:
    podman.start(name, network, "httpd", "-f", "-p", "80", "-h", "/www")


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
