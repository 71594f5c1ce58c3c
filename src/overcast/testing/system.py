"""The whole system as processes on simulated hosts: directory, controller, an agent per host
on the Linux dataplane (root). For tests that drive it from outside — the CNI plugin, podman,
Docker — the way an operator's machines would run it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..agent.client import agent_connected
from ..agent.credentials import CSPROOT
from ..client.vsd import VsdClient
from ..lab import Lab
from .ports import free_port
from .processes import Service, logged_in


@dataclass
class System:
    lab: Lab
    client: VsdClient  # logged in as csproot
    url: str
    controller: str
    sockets: dict[str, Path] = field(default_factory=dict)  # host -> its agent's API socket
    host_ns: dict[str, str] = field(default_factory=dict)  # host -> its namespace


@contextmanager
def running_system(work: Path, hosts: tuple[str, ...] = ("h1", "h2")) -> Iterator[System]:
    lab = Lab()
    services: list[Service] = []
    database = f"sqlite:///{work / 'directory.db'}"
    url, controller = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    try:
        services.append(
            Service(["directory", "--listen", url, "--database", database], work / "directory.log")
        )
        services[0].wait_until(logged_in(f"http://{url}"), "the directory")
        services.append(
            Service(
                ["controller", "--database", database, "--listen", controller, "--insecure"], work / "c.log"
            )
        )
        client = VsdClient(f"http://{url}")
        client.login()
        system = System(lab, client, f"http://{url}", controller)
        for i, short in enumerate(hosts, 1):
            system.host_ns[short] = lab.host(short, f"10.99.0.{i}")
            system.sockets[short] = work / f"{short}.sock"
            services.append(
                Service(
                    [
                        "agent",
                        "--insecure",
                        "--credentials",
                        str(CSPROOT.write(work / "credentials.toml")),
                        "--controller",
                        controller,
                        "--host-id",
                        f"{lab.tag}{short}",
                        "--underlay-ip",
                        f"10.99.0.{i}",
                        "--dataplane",
                        "linux",
                        "--host-netns",
                        system.host_ns[short],
                        "--socket",
                        str(system.sockets[short]),
                    ],
                    work / f"agent-{short}.log",
                )
            )
            services[-1].wait_until(partial(agent_connected, system.sockets[short]), f"agent {short}")
        yield system
    finally:
        for service in reversed(services):
            service.stop()
        lab.close()


def busybox_image(work: Path) -> Path:
    """A container image without a registry: a busybox-static rootfs as a tar archive, with a
    one-line web root (``/www/index.html`` says ``overcast``)."""
    rootfs = work / "rootfs"
    for sub in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "www"):
        (rootfs / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    applets = subprocess.run(
        [str(rootfs / "bin" / "busybox"), "--list"], capture_output=True, text=True
    ).stdout
    for applet in applets.split():
        if applet != "busybox" and not (rootfs / "bin" / applet).exists():
            (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\n")
    (rootfs / "www" / "index.html").write_text("overcast\n")
    archive = work / "bbox.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
    return archive


def http_probe(address: str, port: int) -> str:
    """A shell line for inside a busybox container: an HTTP request with nc (busybox-static's
    wget crashes resolving names); the answer contains ``overcast`` when it got through."""
    return f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {address} {port}"
