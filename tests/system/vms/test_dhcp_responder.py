"""The agent's DHCP responder against a real client (busybox's udhcpc) across a veth pair in
namespaces: the client gets exactly the address, mask, router and MTU it was told; a MAC the
responder does not know gets nothing; a changed table is served at once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from overcast.lab import Lab, sh
from overcast.vms.dhcp import Lease
from overcast.vms.responder import DomainDhcp

from ...support.lab import needs_root

pytestmark = [*needs_root, pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox")]

CLIENT_MAC = "52:54:00:12:34:56"
SCRIPT = """#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
echo "$1 ip=$ip subnet=$subnet router=$router mtu=$mtu lease=$lease serverid=$serverid" >> {out}
"""


def udhcpc(netns: str, ifname: str, script: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            netns,
            "busybox",
            "udhcpc",
            "-i",
            ifname,
            "-f",
            "-q",
            "-n",
            "-t",
            "3",
            "-T",
            "1",
            "-s",
            str(script),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_real_client_gets_exactly_its_lease(lab: Lab, tmp_path: Path) -> None:
    server, client = lab.container("dhcp-s"), lab.container("dhcp-c")
    sh("ip", "link", "add", "ovdhs", "netns", server, "type", "veth", "peer", "ovdhc", "netns", client)
    sh("ip", "-n", server, "link", "set", "ovdhs", "up")
    sh("ip", "-n", client, "link", "set", "ovdhc", "address", CLIENT_MAC, "up")
    out = tmp_path / "leases.txt"
    script = tmp_path / "udhcpc.sh"
    script.write_text(SCRIPT.format(out=out))
    script.chmod(0o755)
    leases = {
        CLIENT_MAC: (Lease(CLIENT_MAC, "10.66.0.23", 24, "10.66.0.1", "0e:0c:00:00:10:01", mtu=1450), "ovdhs")
    }
    responder = DomainDhcp(server, lambda: leases)
    try:
        result = udhcpc(client, "ovdhc", script)
        assert result.returncode == 0, result.stdout + result.stderr
        bound = out.read_text().splitlines()
        assert bound == [
            "bound ip=10.66.0.23 subnet=255.255.255.0 router=10.66.0.1 mtu=1450 lease=3600 serverid=10.66.0.1"
        ], bound
        assert responder.answered == 2  # OFFER, ACK

        # A MAC the responder was not told about gets nothing.
        sh("ip", "-n", client, "link", "set", "ovdhc", "address", "52:54:00:99:99:99")
        refused = udhcpc(client, "ovdhc", script)
        assert refused.returncode != 0 and len(out.read_text().splitlines()) == 1
        assert responder.answered == 2 and responder.ignored >= 3

        # The table changes (the directory moved the address): the next client gets the new one.
        leases[CLIENT_MAC] = (Lease(CLIENT_MAC, "10.66.0.24", 24, "10.66.0.1", "0e:0c:00:00:10:01"), "ovdhs")
        sh("ip", "-n", client, "link", "set", "ovdhc", "address", CLIENT_MAC)
        assert udhcpc(client, "ovdhc", script).returncode == 0
        assert out.read_text().splitlines()[-1].startswith("bound ip=10.66.0.24 ")
    finally:
        responder.close()


def test_an_endpoint_gets_its_address_from_its_agent(lab: Lab, tmp_path: Path) -> None:
    """An endpoint whose interface the runtime leaves unconfigured (as a VM's, or Docker's
    before it configures it) asks DHCP on its port: its agent answers with the directory's
    address; another endpoint's MAC claimed on that port gets nothing."""
    from overcast.agent.client import AgentClient
    from overcast.testing.builders import make_l3_subnet

    from ...support.processes import ProcessSystem, endpoint

    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1"}, lab=lab)
    try:
        client = system.client()
        net = make_l3_subnet(client, "acme", address="10.9.0.0")
        vport, mac = endpoint(client, net["subnet"]["ID"], "vm1")
        other_vport, other_mac = endpoint(client, net["subnet"]["ID"], "vm2")
        netns, other_netns = lab.container("vm1"), lab.container("vm2")
        with AgentClient(system.socket("h1")) as agent:
            attached = agent.attach(vport, mac, netns, configure=False)
            agent.attach(other_vport, other_mac, other_netns, configure=False)
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        out = tmp_path / "leases.txt"
        script = tmp_path / "udhcpc.sh"
        script.write_text(SCRIPT.format(out=out))
        script.chmod(0o755)
        result = udhcpc(netns, "eth0", script)
        assert result.returncode == 0, result.stdout + result.stderr
        assert out.read_text().splitlines() == [
            f"bound ip={attached['ip']} subnet=255.255.255.0 router={attached['gateway']} mtu=1450 "
            f"lease=3600 serverid={attached['gateway']}"
        ]
        # vm1's port claiming vm2's MAC: nothing (the answer is for the port's own endpoint).
        sh("ip", "-n", netns, "link", "set", "eth0", "address", other_mac)
        assert udhcpc(netns, "eth0", script).returncode != 0
    finally:
        system.close()
