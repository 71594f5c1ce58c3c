"""containerd's ``ctr run --cni`` as a second CNI client (root).

ctr reads only the first configuration in /etc/cni/net.d and plugins from /opt/cni/bin and
/usr/lib/cni (container-runtimes.md §4), so this test installs a configuration named to sort
first and a plugin link for its duration — and removes both, whatever happens. containerd runs
in a simulated host's namespace with its own root, state and socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.client.vsd import VsdClient
from overcast.demo import deploy_tenant
from overcast.demo.application import Flow, Tenant, Tier
from overcast.lab import can_run
from overcast.testing.podman import podman_for
from overcast.testing.system import busybox_image, http_probe, running_system

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (can_run() and shutil.which("containerd") and shutil.which("ctr") and shutil.which("podman")),
        reason="needs root, containerd (docker.io) and podman (to build the image archive)",
    ),
]

CTR_SHOP = Tenant("ctrshop", (Tier("web", "10.80.1.0", 80),), (), (Flow("web", "web", 80),))
PLUGIN_LINK = Path("/usr/lib/cni/overcast-cni")


class Ctr:
    def __init__(self, command: list[str]) -> None:
        self.command = command

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)}: {result.stderr}{result.stdout}")
        return result


@pytest.fixture(scope="module")
def ctr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, VsdClient]]:
    tmp = tmp_path_factory.mktemp("containerd")
    with running_system(tmp, hosts=("h1",)) as system:
        conf = Path("/etc/cni/net.d") / f"00-overcast-{system.lab.tag}.conflist"
        linked = False
        process = None
        try:
            deploy_tenant(system.client, CTR_SHOP)
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(
                json.dumps(
                    {
                        "cniVersion": "1.0.0",
                        "name": "ctrshop-web",
                        "plugins": [
                            {
                                "type": "overcast-cni",
                                "enterprise": "ctrshop",
                                "domain": "wordpress",
                                "zone": "web",
                                "subnet": "web",
                                "policyGroups": ["web"],
                                "agentSocket": str(system.sockets["h1"]),
                            }
                        ],
                    }
                )
            )
            if not PLUGIN_LINK.exists():
                PLUGIN_LINK.symlink_to(Path(sys.executable).with_name("overcast-cni"))
                linked = True
            config = tmp / "containerd.toml"
            config.write_text(
                f'version = 2\nroot = "{tmp / "root"}"\nstate = "{tmp / "state"}"\n'
                f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{tmp / "containerd.sock"}"\n'
            )
            with (tmp / "containerd.log").open("ab") as log:
                process = subprocess.Popen(
                    [
                        "nsenter",
                        f"--net=/run/netns/{system.host_ns['h1']}",
                        "containerd",
                        "--config",
                        str(config),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

            run = Ctr(
                [
                    "nsenter",
                    f"--net=/run/netns/{system.host_ns['h1']}",
                    "ctr",
                    "-a",
                    str(tmp / "containerd.sock"),
                ]
            )

            deadline = time.monotonic() + 30
            while run("version", check=False).returncode != 0:
                assert time.monotonic() < deadline, (tmp / "containerd.log").read_text()[-2000:]
                time.sleep(0.2)
            podman = podman_for(tmp / "podman", system.host_ns["h1"], {}, busybox_image(tmp / "image"))
            archive = tmp / "bbox-docker.tar"
            podman("save", "--format", "docker-archive", "-o", str(archive), "localhost/bbox:latest")
            run("image", "import", str(archive))
            yield run, system.client
        finally:
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            # A task's rootfs can stay mounted under containerd's state after it stops.
            for line in Path("/proc/mounts").read_text().splitlines():
                target = line.split()[1]
                if target.startswith(str(tmp)):
                    subprocess.run(["umount", "-l", target], check=False)
            conf.unlink(missing_ok=True)
            if linked:
                PLUGIN_LINK.unlink(missing_ok=True)


def test_ctr_run_with_cni(ctr: tuple[Any, VsdClient]) -> None:
    run, directory = ctr

    def containers(uuid: str) -> list[dict[str, Any]]:
        return [c for c in directory.list_all("containers") if c.get("UUID") == uuid]

    image = next(line.split()[0] for line in run("image", "ls", "-q").stdout.split() if "bbox" in line)
    # ctr tears the network down only when ``run --rm`` ends: keep one running in the background.
    server = subprocess.Popen(
        [*run.command, "run", "--rm", "--cni", image, "web1", "httpd", "-f", "-p", "80", "-h", "/www"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # Created (INIT) first, then bound to its host by the attach (RUNNING): wait for both.
        while [c.get("status") for c in containers("default-web1/eth0")] != ["RUNNING"]:
            assert time.monotonic() < deadline and server.poll() is None, "ctr run web1 did not come up"
            time.sleep(0.2)
        (web1,) = containers("default-web1/eth0")
        address = web1["interfaces"][0]["IPAddress"]
        assert address.startswith("10.80.1.") and web1["status"] == "RUNNING"
        probe = run("run", "--rm", "--cni", image, "client1", "sh", "-c", http_probe(address, 80))
        assert "overcast" in probe.stdout  # web -> web tcp/80
        assert not containers("default-client1/eth0")  # its DEL ran when it ended
        run("task", "kill", "-s", "SIGKILL", "web1")
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert not containers("default-web1/eth0")  # DEL with an empty CNI_NETNS: the task was gone
