"""kill -9 an agent (its own process, Linux dataplane) while a ping stream and a TCP connection
cross hosts: nothing is lost, nothing reset, no interface recreated."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from overcast.agent.credentials import CSPROOT
from overcast.client.vsd import VsdClient
from overcast.lab import Lab, sh
from overcast.testing.builders import make_l3_subnet
from overcast.testing.ports import free_port
from overcast.testing.processes import Service, logged_in

from ...support.lab import needs_root
from ...support.sockets import exchange, links_of, open_connection

pytestmark = needs_root


def cli(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "overcast", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout) if result.stdout.startswith(("{", "[")) else result.stdout


def test_kill_9_an_agent_under_traffic(lab: Lab, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'directory.db'}"
    url, controller = f"http://127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    services: list[Service] = []
    agents: dict[str, Service] = {}

    credentials = str(CSPROOT.write(tmp_path / "credentials.toml"))

    def agent(short: str, address: str, host_ns: str) -> Service:
        return Service(
            ["agent", "--insecure", "--credentials", credentials, "--controller", controller,
             "--host-id", f"{lab.tag}{short}", "--underlay-ip", address,
             "--dataplane", "linux", "--host-netns", host_ns, "--socket", str(tmp_path / f"{short}.sock")],
            tmp_path / f"agent-{short}.log",
        )  # fmt: skip

    try:
        services.append(
            Service(["directory", "--listen", url[7:], "--database", database], tmp_path / "d.log")
        )
        services[0].wait_until(logged_in(url), "the directory")
        services.append(
            Service(
                ["controller", "--database", database, "--listen", controller, "--insecure"],
                tmp_path / "c.log",
            )
        )
        hosts = {
            short: (f"10.99.0.{i}", lab.host(short, f"10.99.0.{i}"))
            for i, short in enumerate(("h1", "h2"), 1)
        }
        for short, (address, host_ns) in hosts.items():
            agents[short] = agent(short, address, host_ns)
        for short, service in agents.items():
            service.wait_until(lambda s=short: (tmp_path / f"{s}.sock").exists(), f"agent {short}")

        client = VsdClient(url)
        client.login()
        net = make_l3_subnet(client, "acme", address="10.5.0.0")
        domain, subnet = net["domain"], net["subnet"]
        for direction in ("ingress", "egress"):
            client.create(f"domains/{domain['ID']}/{direction}acltemplates",
                          {"name": direction, "active": True, "defaultAllowIP": True})  # fmt: skip
        containers, ips = {}, {}
        for name, short in (("web1", "h1"), ("db1", "h2")):
            body = {"name": name, "type": "CONTAINER", "addressSpoofing": "INHERITED"}
            vport = client.create(f"subnets/{subnet['ID']}/vports", body)
            mac = f"02:00:00:00:00:{len(containers) + 1:02x}"
            client.create("containers", {"name": name, "UUID": str(uuid.uuid4()),
                                         "interfaces": [{"MAC": mac, "VPortID": vport["ID"]}]})  # fmt: skip
            containers[name] = lab.container(name)
            result = cli("agent", "attach", "--vport", vport["ID"], "--mac", mac, "--netns", containers[name],
                         "--socket", str(tmp_path / f"{short}.sock"))  # fmt: skip
            ips[name] = result["ip"]
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
            agents["h1"].stop(kill=True)  # kill -9
            time.sleep(1.0)
            assert exchange(conn)  # the kernel keeps forwarding without its agent
            address, host_ns = hosts["h1"]
            agents["h1"] = agent("h1", address, host_ns)
            socket_path = str(tmp_path / "h1.sock")
            agents["h1"].wait_until(
                lambda: cli("agent", "state", "--json", "--socket", socket_path)["applied_revision"] > 0,
                "the restarted agent's first sync",
            )
            assert exchange(conn)  # no reset: the same connection still works
        output, _ = pinger.communicate(timeout=30)
        assert " 0% packet loss" in output, output
        assert links_of(domain_ns) == before  # adopted: nothing recreated
    finally:
        for service in [*agents.values(), *reversed(services)]:
            service.stop()
