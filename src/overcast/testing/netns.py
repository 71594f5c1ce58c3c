"""Simulated hosts and containers as network namespaces, and real-packet probes (root only).

Every namespace a test creates starts with its lab's unique prefix and is deleted when the lab
closes, even after a failure; traffic only goes to addresses inside these namespaces.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

PROBE = Path(__file__).with_name("probe.py")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def can_run() -> bool:
    return os.geteuid() == 0 and Path("/usr/sbin/ip").exists() and Path("/usr/sbin/nft").exists()


class Lab:
    """An underlay bridge, hosts with an underlay address each, and containers."""

    def __init__(self) -> None:
        self.tag = "t" + uuid.uuid4().hex[:6]
        self.underlay = f"{self.tag}-ul"
        self.hosts: dict[str, str] = {}  # host netns -> underlay IP
        self.namespaces: list[str] = []
        self.listeners: list[subprocess.Popen[str]] = []
        self._add(self.underlay)
        sh("ip", "-n", self.underlay, "link", "add", "br-ul", "type", "bridge")
        sh("ip", "-n", self.underlay, "link", "set", "br-ul", "up")

    def _add(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def host(self, short: str, address: str) -> str:
        """A host namespace ``<tag>-<short>`` with ``address``/24 on the underlay bridge."""
        name = self._add(f"{self.tag}-{short}")
        sh(
            "ip",
            "-n",
            name,
            "link",
            "add",
            "ul0",
            "type",
            "veth",
            "peer",
            "name",
            short,
            "netns",
            self.underlay,
        )
        sh("ip", "-n", self.underlay, "link", "set", short, "master", "br-ul", "up")
        sh("ip", "-n", name, "addr", "add", f"{address}/24", "dev", "ul0")
        sh("ip", "-n", name, "link", "set", "ul0", "up")
        self.hosts[name] = address
        return name

    def container(self, short: str) -> str:
        return self._add(f"{self.tag}-c-{short}")

    def close(self) -> None:
        for process in self.listeners:
            process.kill()
        owned = [n for n in os.listdir("/run/netns") if self.tag in n] if os.path.isdir("/run/netns") else []
        for name in sorted(set(owned) | set(self.namespaces), key=len, reverse=True):
            sh("ip", "netns", "del", name, check=False)

    # --- probes ------------------------------------------------------------------------------

    def listen(self, netns: str, proto: str, port: int) -> None:
        """A TCP or UDP echo listener inside a container (killed when the lab closes).

        Returns once the socket is bound, so a connection made right after cannot be refused.
        """
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, str(PROBE), "listen", proto, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.listeners.append(process)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"listener {proto}/{port} in {netns} did not start")

    def connects(self, netns: str, proto: str, address: str, port: int, timeout: float = 1.0) -> bool:
        """Whether a new TCP connection (or a UDP exchange) from ``netns`` succeeds."""
        result = sh(
            "ip", "netns", "exec", netns, sys.executable, str(PROBE), "connect", proto, address, str(port),
            str(timeout), check=False,
        )  # fmt: skip
        return result.returncode == 0

    def pings(self, netns: str, address: str, timeout: int = 1) -> bool:
        result = sh("ip", "netns", "exec", netns, "ping", "-c", "1", "-W", str(timeout), address, check=False)
        return result.returncode == 0
