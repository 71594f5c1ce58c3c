"""The WordPress application deployed through the application designer, probed with real TCP
connections on the Linux dataplane (directory, controller and agents as processes): every flow
it designs passes, everything else between its tiers is refused — in a domain whose own
policies allow everything — and a flow added later passes once the agents converge."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from overcast.lab import Lab

from ...support.appd import wordpress
from ...support.lab import needs_root
from ...support.processes import ProcessSystem, endpoint

pytestmark = [pytest.mark.slow, *needs_root]

PORTS = (80, 8080, 3306, 22)


def test_wordpress_designed_then_probed(lab: Lab, tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1", "h2": "10.99.0.2"}, lab=lab)
    try:
        client = system.client()
        wp = wordpress(client)
        for direction in ("ingress", "egress"):
            client.create(
                f"domains/{wp['domain']['ID']}/{direction}acltemplates",
                {"name": f"open {direction}", "active": True, "defaultAllowIP": True},
            )
        subnets = {s["name"]: s for s in client.list_all(f"domains/{wp['domain']['ID']}/subnets")}
        placement = {
            "web1": ("wordpress - web", "h1"),
            "app1": ("wordpress - app", "h2"),
            "db1": ("wordpress - db", "h1"),
            "other1": ("s", "h2"),
        }
        netns, ips = {}, {}
        for name, (subnet, host) in placement.items():
            vport, mac = endpoint(client, subnets[subnet]["ID"], name)
            netns[name] = lab.container(name)
            ips[name] = system.attach(host, vport, mac, netns[name])["ip"]
            for port in PORTS:
                lab.listen(netns[name], "tcp", port)
        system.wait_matching()

        def observed() -> set[tuple[str, str, int]]:
            """Every ordered pair on every port, probed at once (a refused probe waits out its
            timeout: one after another they took 45 s)."""
            probes = [(src, dst, port) for src in ips for dst in ips for port in PORTS if src != dst]
            with ThreadPoolExecutor(16) as pool:
                results = pool.map(
                    lambda p: lab.connects(netns[p[0]], "tcp", ips[p[1]], p[2], timeout=1.0), probes
                )
                return {probe for probe, ok in zip(probes, results, strict=True) if ok}

        designed = {("other1", "web1", 80), ("web1", "app1", 8080), ("app1", "db1", 3306)}
        assert observed() == designed
        # A flow added to the design: web may now reach db on ssh, and nothing else changes.
        ssh = client.create(
            f"enterprises/{wp['ent']['ID']}/appdservices",
            {"name": "ssh", "protocol": "6", "destinationPort": "22"},
        )
        client.create(
            f"appdapplications/{wp['app']['ID']}/appdflows",
            {
                "name": "web-to-db-ssh",
                "originTierID": wp["tiers"]["web"]["ID"],
                "destinationTierID": wp["tiers"]["db"]["ID"],
                "applicationServiceIDs": [ssh["ID"]],
            },
        )
        system.wait_matching()
        assert observed() == designed | {("web1", "db1", 22)}
    finally:
        system.close()
