"""``overcast policy verify`` on the Linux datapath: sampled flows between real endpoints agree
with the model (both verdicts among them) — on a fixed site and on random topologies (groups,
placements, ingress and egress entries of both actions, defaults) — and a planted disagreement
(a rule slipped into a host's egress chain, as a bug in the ruleset generator would) is found
and named."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab, sh

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, endpoint, web_and_db

pytestmark = [pytest.mark.slow, *needs_root]


def verify(system: ProcessSystem, *args: str) -> tuple[int, dict[str, Any]]:
    sockets = [arg for short in system.hosts for arg in ("--agent-socket", str(system.socket(short)))]
    result = system.operator_cli("policy", "verify", "--json", *sockets, *args)
    assert result.stdout.startswith("{"), result.stderr + result.stdout
    return result.returncode, json.loads(result.stdout)


def test_verify_agrees_and_finds_a_planted_disagreement(lab: Lab, tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1", "h2": "10.99.0.2"}, lab=lab)
    try:
        site = web_and_db(system, lab, "10.7.0.0")
        site["client"].create(
            f"egressacltemplates/{site['egress']}/egressaclentrytemplates",
            {"action": "FORWARD", "protocol": "6", "destinationPort": "3306", "stateful": True,
             "priority": 10, "locationType": "POLICYGROUP", "locationID": site["db"],
             "networkType": "POLICYGROUP", "networkID": site["web"]},
        )  # fmt: skip
        lab.listen(site["netns"]["db1"], "tcp", 3306)
        system.wait_matching()

        status, report = verify(system, "--samples", "24", "--seed", "7", "--timeout", "0.5")
        assert status == 0 and report["disagreements"] == 0, report
        assert report["agreed"] == 24
        verdicts = {r["model"]["allowed"] for r in report["results"]}
        assert verdicts == {True, False}

        # A bug in h2's ruleset: TCP to db1 dropped whatever the policy says.
        driver = LinuxDataplane(system.host_id("h2"), "10.99.0.2")  # only for its naming
        namespace = driver.netns_name(site["domain"])
        driver.close()
        sh("ip", "netns", "exec", namespace, "nft", "insert", "rule", "inet", "overcast", "egress",
           "meta", "l4proto", "tcp", "drop")  # fmt: skip
        status, report = verify(system, "--samples", "24", "--seed", "7", "--timeout", "0.5")
        assert status == 1 and report["disagreements"] > 0
        wrong = [r for r in report["results"] if r["disagreements"]]
        # Every TCP flow to db1 disagrees: allowed ones do not get through, denied ones are
        # not denied by the entry the model names (its counter does not move).
        assert all(r["sample"].endswith(("tcp/3306", "tcp/9")) and f"-> {site['ips']['db1']} " in r["sample"]
                   for r in wrong), wrong  # fmt: skip
        assert any(
            r["sample"].endswith("tcp/3306") and "the model says ALLOW, the packet did not get through"
            in r["disagreements"] for r in wrong
        )  # fmt: skip
    finally:
        system.close()


PORTS = (22, 80, 3306)


def random_entry(rng: random.Random, groups: list[str], priority: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "action": rng.choice(("FORWARD", "DROP")),
        "stateful": True,
        "priority": priority,
    }
    for side in ("location", "network"):
        if rng.random() < 0.75:
            entry[f"{side}Type"], entry[f"{side}ID"] = "POLICYGROUP", rng.choice(groups)
        else:
            entry[f"{side}Type"] = "ANY"
    if rng.random() < 0.8:
        entry["protocol"], entry["destinationPort"] = "6", str(rng.choice(PORTS))
    else:
        entry["protocol"] = "1"
    return entry


@pytest.mark.parametrize("seed", [11, 29])
def test_verify_agrees_on_random_topologies(lab: Lab, tmp_path: Path, seed: int) -> None:
    from overcast.testing.builders import make_l3_subnet

    rng = random.Random(seed)
    hosts = {"h1": "10.99.0.1", "h2": "10.99.0.2", "h3": "10.99.0.3"}
    system = ProcessSystem(tmp_path, hosts, lab=lab)
    try:
        client = system.client()
        net = make_l3_subnet(client, "acme", address="10.8.0.0")
        domain, subnet = net["domain"]["ID"], net["subnet"]["ID"]
        groups = [client.create(f"domains/{domain}/policygroups", {"name": f"g{i}"})["ID"] for i in range(3)]
        for direction in ("ingress", "egress"):
            template = client.create(
                f"domains/{domain}/{direction}acltemplates",
                {"name": direction, "active": True, "defaultAllowIP": rng.random() < 0.5},
            )["ID"]
            for priority in range(rng.randint(2, 5)):
                client.create(
                    f"{direction}acltemplates/{template}/{direction}aclentrytemplates",
                    random_entry(rng, groups, 10 + priority),
                )
        for i in range(6):
            member_of = tuple(g for g in groups if rng.random() < 0.5)
            vport, mac = endpoint(client, subnet, f"e{i}", member_of)
            netns = lab.container(f"e{i}")
            system.attach(rng.choice(sorted(hosts)), vport, mac, netns)
            for port in PORTS:
                lab.listen(netns, "tcp", port)
        system.wait_matching()

        status, report = verify(system, "--samples", "30", "--seed", str(seed), "--timeout", "0.5")
        assert status == 0 and report["disagreements"] == 0, [
            r for r in report["results"] if r.get("disagreements")
        ]
        assert report["agreed"] == 30, os.linesep.join(map(str, report["results"]))
    finally:
        system.close()
