"""Every ACL entry's rules and every default verdict count packets in the kernel (nftables
counters), and a reload of the domain's table keeps them: 5 connections allowed by an entry
move its counter by 5 (their first packets; the rest ride the established flow), 3 pings the
destination's default drops move its default by 3, the source's default (allow) counts all 8;
a policy change that reloads the table keeps the counts, and 2 more connections make 7; an
agent killed and restarted finds them where they were. Per endpoint: the 3 dropped pings are
db1's ``dropped_received`` and among web1's ``sent``; db1 received exactly what its host's
egress let through plus what it dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.lab import Lab

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, cli_ok, web_and_db

pytestmark = [pytest.mark.slow, *needs_root]


def counted(system: ProcessSystem, host: str, domain: str) -> dict[str, Any]:
    answer = cli_ok("agent", "counters", "--socket", str(system.socket(host)))
    return dict(answer["domains"][domain])


def test_entry_and_default_counters(lab: Lab, tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1", "h2": "10.99.0.2"}, lab=lab)
    try:
        site = web_and_db(system, lab, "10.7.0.0")
        client, domain, egress, netns, ips = (
            site["client"],
            site["domain"],
            site["egress"],
            site["netns"],
            site["ips"],
        )
        rule = {
            "action": "FORWARD",
            "protocol": "6",
            "stateful": True,
            "locationType": "POLICYGROUP",
            "locationID": site["db"],
            "networkType": "POLICYGROUP",
            "networkID": site["web"],
        }
        mysql = client.create(
            f"egressacltemplates/{egress}/egressaclentrytemplates",
            {**rule, "destinationPort": "3306", "priority": 10},
        )
        lab.listen(netns["db1"], "tcp", 3306)
        system.wait_matching()
        for _ in range(5):
            assert lab.connects(netns["web1"], "tcp", ips["db1"], 3306)
        for _ in range(3):
            assert not lab.pings(netns["web1"], ips["db1"])
        at_db, at_web = counted(system, "h2", domain), counted(system, "h1", domain)
        assert at_db["egress"][mysql["ID"]][0] == 5
        assert at_db["egress"]["default"][0] == 3
        assert at_web["ingress"]["default"][0] == 8
        assert at_db["egress"][mysql["ID"]][1] > 5 * 40  # bytes: SYNs of 60 bytes or so
        db1, web1 = at_db["endpoints"][site["vports"]["db1"]], at_web["endpoints"][site["vports"]["web1"]]
        assert db1["dropped_received"][0] == 3 and web1["dropped_sent"][0] == 0
        # Each connection: SYN, ACK, FIN, ACK at least from web1; web1 also sent the 3 pings.
        assert web1["sent"][0] >= 5 * 3 + 3 and db1["received"][0] >= 5 * 3 + 3
        assert db1["sent"][0] >= 5 * 2 and web1["received"][0] >= 5 * 2  # SYN-ACKs, FINs

        # A policy change that reloads the table (a new entry: a new shape) keeps the counts.
        client.create(
            f"egressacltemplates/{egress}/egressaclentrytemplates",
            {**rule, "destinationPort": "8080", "priority": 20},
        )
        system.wait_matching()
        kept = counted(system, "h2", domain)
        assert kept["egress"][mysql["ID"]][0] == 5 and kept["egress"]["default"][0] == 3
        assert kept["endpoints"][site["vports"]["db1"]]["dropped_received"][0] == 3
        for _ in range(2):
            assert lab.connects(netns["web1"], "tcp", ips["db1"], 3306)
        assert counted(system, "h2", domain)["egress"][mysql["ID"]][0] == 7
        # An agent restart adopts the table with its counts.
        system.agents["h2"].stop(kill=True)
        system.restart_agent("h2")
        adopted = counted(system, "h2", domain)
        assert adopted["egress"][mysql["ID"]][0] == 7
        assert adopted["endpoints"][site["vports"]["db1"]]["dropped_received"][0] == 3
    finally:
        system.close()
