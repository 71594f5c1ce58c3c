"""Decommissioning a host: ``overcast agent cleanup`` gives back every kernel object its agent
owned, refuses while the agent serves, and is idempotent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab, sh
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ...support.lab import needs_root
from ...support.vspk_topology import Shop

pytestmark = needs_root


def cleanup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "overcast", "agent", "cleanup", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def owned_namespaces(host_id: str) -> list[str]:
    return sorted(
        n.split()[0] for n in sh("ip", "netns", "list").stdout.splitlines() if n.startswith(f"ovc-{host_id}-")
    )


def links(netns: str) -> list[str]:
    return [link["ifname"] for link in json.loads(sh("ip", "-j", "-n", netns, "link", "show").stdout)]


def test_cleanup_removes_what_stopped_agents_left(
    sqlite_server: ServedDirectory, tmp_path: Path, lab: Lab
) -> None:
    hosts = {f"{lab.tag}h1": "10.99.0.1", f"{lab.tag}h3": "10.99.0.3"}
    netns_of = {host: lab.host(host[-2:], address) for host, address in hosts.items()}
    shop = Shop(sqlite_server)
    containers = {name: lab.container(name) for name in ("web1", "db1")}
    placement = {"web1": f"{lab.tag}h1", "db1": f"{lab.tag}h3"}
    dataplanes: list[LinuxDataplane] = []

    def linux(host_id: str, address: str) -> LinuxDataplane:
        dataplanes.append(LinuxDataplane(host_id, address, host_netns=netns_of[host_id]))
        return dataplanes[-1]

    with Cluster(sqlite_server.directory, tmp_path, hosts, dataplane=linux) as cluster:
        for name, host in placement.items():
            with cluster.client(host) as agent:
                agent.attach(shop.vports[name].id, shop.macs[name], containers[name])
        cluster.assert_matches_directory()
        serving = cleanup("--host-id", f"{lab.tag}h1", "--host-netns", netns_of[f"{lab.tag}h1"],
                          "--socket", str(cluster.socket(f"{lab.tag}h1")))  # fmt: skip
        assert serving.returncode == 1 and "an agent is serving" in serving.stderr
        assert owned_namespaces(f"{lab.tag}h1"), "refused, so nothing was removed"
    for dataplane in dataplanes:
        dataplane.close()

    # The agents stopped; their datapath stays (a restart must not drop traffic).
    for host in hosts:
        assert len(owned_namespaces(host)) == 1
    assert "eth0" in links(containers["web1"])
    # A VXLAN stranded in the host namespace by an interrupted creation is the agent's too.
    sh("ip", "-n", netns_of[f"{lab.tag}h1"], "link", "add", "ox4242", "type", "vxlan", "id", "4242",
       "local", "10.99.0.1", "dstport", "4789")  # fmt: skip

    done = cleanup("--host-id", f"{lab.tag}h1", "--host-netns", netns_of[f"{lab.tag}h1"],
                   "--socket", str(tmp_path / "gone.sock"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "link ox4242" in done.stdout
    assert owned_namespaces(f"{lab.tag}h1") == []
    assert not any(name.startswith("ox") for name in links(netns_of[f"{lab.tag}h1"]))
    assert "eth0" not in links(containers["web1"])  # its veth went with the domain namespace
    assert len(owned_namespaces(f"{lab.tag}h3")) == 1, "another host's objects are not touched"
    assert "eth0" in links(containers["db1"])

    again = cleanup("--host-id", f"{lab.tag}h1", "--host-netns", netns_of[f"{lab.tag}h1"],
                    "--socket", str(tmp_path / "gone.sock"))  # fmt: skip
    assert again.returncode == 0 and "0 object(s) removed" in again.stdout

    last = cleanup("--host-id", f"{lab.tag}h3", "--host-netns", netns_of[f"{lab.tag}h3"],
                   "--socket", str(tmp_path / "gone.sock"))  # fmt: skip
    assert last.returncode == 0, last.stderr
    assert owned_namespaces(f"{lab.tag}h3") == []
    assert "eth0" not in links(containers["db1"])
