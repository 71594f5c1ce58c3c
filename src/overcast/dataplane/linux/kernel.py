"""The Linux dataplane's privileged calls that are not netlink messages on a socket it holds:
named network namespaces, a namespace's sysctls, and its connection tracking.

Argument lists only (no shell); every failure is a :class:`DataplaneError` naming the call.
Namespaces are made and removed with ``ip netns`` (it also bind-mounts them under /run/netns;
pyroute2's own ``netns.create`` forks, which crashes beside gRPC's threads). Sysctls are written
through /proc/sys from inside the namespace (``setns`` on the calling thread: /proc/sys/net
follows the opener's namespace). Connection tracking goes through the ``conntrack`` tool run in
the namespace: pyroute2's conntrack socket, opened there, still saw the root namespace's table
(checked 2026-12-07), and ``conntrack -D`` says "nothing matched" only in its message (exit
status 1 is shared with real failures).
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterable

from ..base import DataplaneError
from .netns import in_netns

#: What a domain namespace needs: forwarding, and bridged IP through nftables' inet hooks.
ROUTER_SYSCTLS = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise DataplaneError(f"{' '.join(argv[:4])}…: {result.stderr.strip() or result.stdout.strip()}")
    return result


def add_netns(name: str) -> None:
    run("ip", "netns", "add", name)


def delete_netns(name: str) -> None:
    run("ip", "netns", "del", name)


def set_sysctls(netns: str | None, values: dict[str, str]) -> None:
    """Write sysctls (paths under /proc/sys) as the namespace sees them (None: this one)."""
    try:
        with in_netns(netns):
            for path, value in values.items():
                with open(f"/proc/sys/{path}", "w") as setting:
                    setting.write(value)
    except OSError as exc:
        raise DataplaneError(f"sysctl in {netns}: {exc}") from exc


def flush_conntrack(netns: str) -> None:
    """Forget every tracked flow of the namespace (each is judged again on its next packet)."""
    result = subprocess.run(["ip", "netns", "exec", netns, "conntrack", "-F"], capture_output=True, text=True)
    if result.returncode != 0 and "0 flow entries" not in result.stderr:
        raise DataplaneError(f"conntrack -F in {netns}: {result.stderr.strip()}")


def forget_flows(netns: str, addresses: Iterable[ipaddress.IPv4Address]) -> None:
    """Forget the tracked flows from or to each address (one ``conntrack -D`` per direction)."""
    _delete_flows(netns, (str(a) for a in addresses), ("-s", "-d"))


def _delete_flows(netns: str, addresses: Iterable[str], sides: tuple[str, ...]) -> None:
    """``conntrack -D <side> <address>`` for each address and side ("nothing matched" is fine)."""
    for address in addresses:
        for side in sides:
            argv = ["ip", "netns", "exec", netns, "conntrack", "-D", side, address]
            result = subprocess.run(argv, capture_output=True, text=True)
            if result.returncode != 0 and "0 flow entries have been deleted" not in result.stderr:
                raise DataplaneError(f"conntrack -D {side} {address} in {netns}: {result.stderr.strip()}")


def forget_translated(netns: str, addresses: Iterable[str]) -> None:
    """Forget the flows translated to or from each (floating) address: those that arrived for
    it (original destination) and those that left with it (reply destination)."""
    _delete_flows(netns, sorted(addresses), ("-d", "--reply-dst"))
