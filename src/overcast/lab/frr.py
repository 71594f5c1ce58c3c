"""FRR 8.4 as a data-center router in a lab namespace (tests and the demo, never on the host).

The recipe of shared/reference/bgp-evpn.md §2: zebra and bgpd started in the namespace with
``ip netns exec`` and every path explicit (pid files, vty and zserv sockets, logs, all in a
directory of our own; no TCP vty; nothing in /etc/frr or /var/run/frr), the configuration
pushed with ``vtysh -b``, queried with ``vtysh -c ... json``. FRR 8.4 refuses to exchange
routes with an eBGP peer without a policy unless told ``no bgp ebgp-requires-policy``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

DAEMONS = ("zebra", "bgpd")


class Frr:
    """One FRR instance (zebra + bgpd) in network namespace ``netns``."""

    def __init__(self, netns: str, asn: int, router_id: str, *, directory: Path | None = None) -> None:
        """``directory``: where its configuration, sockets and logs go (default: a temporary one)."""
        self.netns, self.asn, self.router_id = netns, asn, router_id
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory or Path(tempfile.mkdtemp(prefix=f"frr-{netns}-"))
        self.run_dir = self.dir / "run"

    def start(
        self, neighbours: dict[str, int], *, networks: tuple[str, ...] = (), default_originate: bool = True
    ) -> None:
        """Start the daemons and configure BGP: ``neighbours`` (address -> AS), multipath
        (two gateways announcing a prefix both carry it), a default route sent to them."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "vtysh.conf").touch()
        lines = [
            "frr defaults datacenter",
            f"router bgp {self.asn}",
            f" bgp router-id {self.router_id}",
            " no bgp ebgp-requires-policy",
            " no bgp network import-check",
            " bgp bestpath as-path multipath-relax",
        ]
        for address, asn in sorted(neighbours.items()):
            lines += [f" neighbor {address} remote-as {asn}", f" neighbor {address} timers 3 9",
                      f" neighbor {address} timers connect 2"]  # fmt: skip
        lines += [" address-family ipv4 unicast", "  maximum-paths 8"]
        for network in networks:
            lines.append(f"  network {network}")
        for address in sorted(neighbours) if default_originate else ():
            lines.append(f"  neighbor {address} default-originate")
        lines += [" exit-address-family", "exit"]
        (self.dir / "frr.conf").write_text("\n".join(lines) + "\n")
        subprocess.run(["chown", "-R", "frr:frr", str(self.dir)], check=True)
        for daemon in DAEMONS:
            argv = [
                "ip", "netns", "exec", self.netns, f"/usr/lib/frr/{daemon}", "-d", "-F", "traditional",
                "-f", "/dev/null", "-i", str(self.run_dir / f"{daemon}.pid"),
                "--vty_socket", str(self.run_dir), "-z", str(self.run_dir / "zserv.api"), "-P", "0",
                "--log", f"file:{self.dir / daemon}.log", "-u", "frr", "-g", "frr",
            ]  # fmt: skip
            subprocess.run(argv, check=True, capture_output=True)
        self._vtysh("-b")

    def _vtysh(self, *args: str) -> str:
        result = subprocess.run(
            ["vtysh", "--vty_socket", str(self.run_dir), "--config_dir", str(self.dir), *args],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"vtysh {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def vtysh(self, command: str) -> str:
        """``vtysh -c COMMAND`` (e.g. ``clear ip bgp *``); its output."""
        return self._vtysh("-c", command)

    def show(self, command: str) -> Any:
        """``vtysh -c '<command> json'``, parsed."""
        return json.loads(self.vtysh(f"{command} json") or "{}")

    def bgp_routes(self) -> dict[str, list[str]]:
        """Prefix -> the next hops of its paths in FRR's BGP table."""
        table = self.show("show ip bgp").get("routes", {})
        return {
            prefix: sorted(hop["ip"] for path in paths for hop in path.get("nexthops", []))
            for prefix, paths in table.items()
        }

    def fib(self) -> dict[str, list[str]]:
        """Prefix -> next hops of BGP routes in the namespace's kernel table (what forwards)."""
        argv = ["ip", "-j", "-n", self.netns, "route", "show", "proto", "bgp"]
        routes = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout or "[]")
        out: dict[str, list[str]] = {}
        for route in routes:
            dst = route["dst"] if "/" in route["dst"] else f"{route['dst']}/32"
            hops = [h["gateway"] for h in route.get("nexthops", [])] or [route.get("gateway", "")]
            out[dst] = sorted(hops)
        return out

    def session_states(self) -> dict[str, str]:
        peers = self.show("show ip bgp summary").get("ipv4Unicast", {}).get("peers", {})
        return {address: peer.get("state", "") for address, peer in peers.items()}

    def wait_for(self, predicate: Any, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise TimeoutError(f"FRR in {self.netns}: {what} (sessions {self.session_states()})")

    def pids(self) -> list[int]:
        """The daemons' process IDs (each leads its own process group: they daemonize)."""
        files = (self.run_dir / f"{daemon}.pid" for daemon in DAEMONS)
        return [int(f.read_text().strip()) for f in files if f.exists()]

    def stop(self) -> None:
        for daemon in reversed(DAEMONS):
            pid_file = self.run_dir / f"{daemon}.pid"
            if pid_file.exists():
                subprocess.run(["kill", pid_file.read_text().strip()], capture_output=True)
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)
