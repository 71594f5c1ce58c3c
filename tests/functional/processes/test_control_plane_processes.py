"""Directory, controller and three agents as separate processes, driven by the REST API and the
``overcast agent`` CLI; restarts with kill -9; hosts going DOWN in the directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.client.vsd import VsdClient
from overcast.testing.builders import make_l3_subnet
from overcast.testing.processes import Service, logged_in

from ...support.processes import ProcessSystem, cli
from ...support.processes import endpoint as make_endpoint

pytestmark = pytest.mark.slow

HOSTS = {"h1": "192.0.2.1", "h2": "192.0.2.2", "h3": "192.0.2.3"}


def test_processes_converge_survive_kill_9_and_record_hosts(tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, HOSTS, controller_args=("--host-grace", "1", "--verbose"))
    try:
        client = VsdClient(system.url)
        client.login()
        net = make_l3_subnet(client, "acme")
        domain, subnet = net["domain"], net["subnet"]
        group = client.create(f"domains/{domain['ID']}/policygroups", {"name": "web"})
        policy = client.create(f"domains/{domain['ID']}/ingressacltemplates", {"name": "out", "active": True})
        client.create(
            f"ingressacltemplates/{policy['ID']}/ingressaclentrytemplates",
            {"action": "FORWARD", "etherType": "0x0800", "DSCP": "*", "locationType": "POLICYGROUP",
             "locationID": group["ID"], "networkType": "POLICYGROUP", "networkID": group["ID"],
             "protocol": "6", "destinationPort": "80", "sourcePort": "*", "stateful": True, "priority": 1},
        )  # fmt: skip

        def endpoint(name: str) -> tuple[str, str]:
            return make_endpoint(client, subnet["ID"], name, (group["ID"],))

        placed = {}
        for number, host in enumerate(("h1", "h2", "h3", "h1"), start=1):
            vport, mac = endpoint(f"web{number}")
            result = system.attach(host, vport, mac)
            assert result["host_id"] == host and result["gateway"] == "10.0.0.1"
            placed[vport] = host
        system.wait_matching()
        h1 = system.state("h1")
        assert [len(d["local"]) for d in h1["domains"]] == [2]
        assert len(h1["domains"][0]["remote"]) == 2 and len(h1["domains"][0]["sets"]) == 1

        # kill -9 the controller; the agents keep their state; a change lands meanwhile.
        system.controller.stop(kill=True)
        vport, mac = endpoint("web5")
        assert system.state("h2")["domains"], "headless agents keep their state"
        assert not system.state("h2")["session"]["connected"]
        system.controller = system.start_controller()
        system.agents["h2"].wait_until(lambda: system.state("h2")["session"]["connected"], "reconnect")
        system.attach("h2", vport, mac)
        system.wait_matching()

        # The directory restarts: the controller tails the store, not the directory process.
        system.directory.stop()
        system.directory = Service(system.directory.args, tmp_path / "directory.log")
        system.directory.wait_until(logged_in(system.url), "the directory again")
        client.login()
        vport, mac = endpoint("web6")
        system.attach("h3", vport, mac)
        system.wait_matching()

        # An agent dies: after the grace period its host is DOWN in the directory.
        system.agents["h3"].stop(kill=True)
        system.directory.wait_until(
            lambda: {v["name"]: v["status"] for v in client.list_all("vrss")}["h3"] == "DOWN", "h3 DOWN"
        )
        statuses = {v["name"]: v["status"] for v in client.list_all("vrss")}
        assert statuses == {"h1": "UP", "h2": "UP", "h3": "DOWN"}
        del system.agents["h3"]
        system.wait_matching()  # the others keep h3's endpoints (its datapath may still forward)
    finally:
        system.close()


def test_bad_flags_fail_clearly(tmp_path: Path) -> None:
    result = cli("agent", "--controller", "127.0.0.1:1", "--socket", str(tmp_path / "a.sock"))
    assert result.returncode == 2 and "needs --controller, --host-id and --underlay-ip" in result.stderr
    result = cli("agent", "--controller", "nohost", "--host-id", "h", "--underlay-ip", "192.0.2.1")
    assert result.returncode == 2 and "HOST:PORT" in result.stderr
    result = cli("agent", "--controller", "a:1", "--host-id", "h", "--underlay-ip", "not-an-ip")
    assert result.returncode == 2
    result = cli("controller", "--tls-client-ca", str(tmp_path / "ca.pem"), "--database", "sqlite://")
    assert result.returncode == 2 and "--tls-cert" in result.stderr
    result = cli("agent", "state", "--socket", str(tmp_path / "missing.sock"))
    assert result.returncode == 1 and "cannot reach the agent" in result.stderr
