"""kill -9 an agent (its own process, Linux dataplane) while a ping stream and a TCP connection
cross hosts: nothing is lost, nothing reset, no interface recreated."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from overcast.lab import Lab, sh
from overcast.testing.builders import make_l3_subnet

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, endpoint
from ...support.sockets import exchange, links_of, open_connection

pytestmark = needs_root


def test_kill_9_an_agent_under_traffic(lab: Lab, tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1", "h2": "10.99.0.2"}, lab=lab)
    try:
        client = system.client()
        net = make_l3_subnet(client, "acme", address="10.5.0.0")
        domain, subnet = net["domain"], net["subnet"]
        for direction in ("ingress", "egress"):
            client.create(f"domains/{domain['ID']}/{direction}acltemplates",
                          {"name": direction, "active": True, "defaultAllowIP": True})  # fmt: skip
        containers, ips = {}, {}
        for name, short in (("web1", "h1"), ("db1", "h2")):
            vport, mac = endpoint(client, subnet["ID"], name)
            containers[name] = lab.container(name)
            ips[name] = system.attach(short, vport, mac, containers[name])["ip"]
        lab.listen(containers["db1"], "tcp", 3306)
        assert lab.pings(containers["web1"], ips["db1"], timeout=2)

        domain_ns = next(
            n for n in sh("ip", "netns", "list").stdout.split() if n.startswith(f"ovc-{lab.tag}h1-")
        )
        before = links_of(domain_ns)
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", containers["web1"], "ping", "-i", "0.05", "-c", "120", ips["db1"]],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        with open_connection(containers["web1"], ips["db1"], 3306) as conn:
            assert exchange(conn)
            time.sleep(1.0)
            system.agents["h1"].stop(kill=True)  # kill -9
            time.sleep(1.0)
            assert exchange(conn)  # the kernel keeps forwarding without its agent
            system.restart_agent("h1")
            assert exchange(conn)  # no reset: the same connection still works
        output, _ = pinger.communicate(timeout=30)
        assert " 0% packet loss" in output, output
        assert links_of(domain_ns) == before  # adopted: nothing recreated
    finally:
        system.close()
