"""VSD statistics from real packets: agents report what their datapath counted every second,
the controller rolls it up, the directory serves it. 50 pings of 1,400 bytes of payload that an
entry allows are web1's BYTES_IN within 3 % of what the wire carried (1,442 bytes of Ethernet
each: a vport's traffic is its veth's own count), db1's BYTES_OUT too; pings the policy drops
are db1's PACKETS_OUT_DROPPED; the subnet, zone, domain and host roll the vport up; the
allowing entry (statsLoggingEnabled) counted the one packet it judged (the rest rode the
established flow); an entry without statsLoggingEnabled has no series; a statistics policy
with dataCollectionFrequency 0 stops db1's series. The agent's Prometheus metrics summarise
the same counters per domain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from overcast.client.vsd import VsdClient
from overcast.lab import Lab, sh
from overcast.testing.ports import free_port

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, web_and_db

pytestmark = [pytest.mark.slow, *needs_root]

FAST = ("--stats-interval", "1")


def total(client: VsdClient, resource: str, object_id: str, metric: str) -> int:
    found = client.statistics(resource, object_id, startTime=int(time.time()) - 600, metrics=metric)
    return sum(found["statsData"][metric])


def settled(client: VsdClient, resource: str, object_id: str, metric: str, at_least: int) -> int:
    """The metric's total once it reached ``at_least`` and stopped moving (reports every
    second, flushes every second)."""
    deadline, last = time.monotonic() + 20, -1
    while time.monotonic() < deadline:
        value = total(client, resource, object_id, metric)
        if value >= at_least and value == last:
            return value
        last = value
        time.sleep(1.5)
    return last


def test_statistics_of_a_known_transfer(lab: Lab, tmp_path: Path) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    system = ProcessSystem(
        tmp_path,
        {"h1": "10.99.0.1", "h2": "10.99.0.2"},
        lab=lab,
        controller_args=("--stats-flush-interval", "1"),
        agent_args={"h1": (*FAST, "--metrics-listen", metrics), "h2": FAST},
    )
    try:
        site = web_and_db(system, lab, "10.7.0.0")
        client: Any = site["client"]
        icmp = client.create(
            f"egressacltemplates/{site['egress']}/egressaclentrytemplates",
            {"action": "FORWARD", "protocol": "1", "stateful": True, "priority": 10,
             "locationType": "POLICYGROUP", "locationID": site["db"],
             "networkType": "POLICYGROUP", "networkID": site["web"], "statsLoggingEnabled": True},
        )  # fmt: skip
        unlogged = client.create(
            f"egressacltemplates/{site['egress']}/egressaclentrytemplates",
            {"action": "FORWARD", "protocol": "6", "destinationPort": "3306", "stateful": True,
             "priority": 20, "locationType": "POLICYGROUP", "locationID": site["db"],
             "networkType": "POLICYGROUP", "networkID": site["web"]},
        )  # fmt: skip
        lab.listen(site["netns"]["db1"], "tcp", 3306)
        system.wait_matching()
        web1, db1 = site["vports"]["web1"], site["vports"]["db1"]
        sh("ip", "netns", "exec", site["netns"]["web1"], "ping", "-q", "-c", "50", "-i", "0.01", "-s", "1400",
           site["ips"]["db1"])  # fmt: skip
        assert lab.connects(site["netns"]["web1"], "tcp", site["ips"]["db1"], 3306)
        # What the policy drops: UDP to db1 (no entry allows it; the egress default drops).
        for _ in range(4):
            assert not lab.connects(site["netns"]["web1"], "udp", site["ips"]["db1"], 53, timeout=0.2)

        wire = 50 * (1400 + 8 + 20 + 14)
        sent = settled(client, "vports", web1, "BYTES_IN", wire)
        assert wire <= sent <= wire * 1.03, (sent, wire)  # plus the TCP and UDP probes, ARP
        received = settled(client, "vports", db1, "BYTES_OUT", wire)
        assert wire <= received <= wire * 1.03, (received, wire)
        assert settled(client, "vports", db1, "PACKETS_OUT_DROPPED", 4) == 4
        assert total(client, "vports", web1, "PACKETS_IN_DROPPED") == 0
        for resource, object_id in (
            ("subnets", site["subnet"]),
            ("domains", site["domain"]),
        ):
            rolled = total(client, resource, object_id, "BYTES_IN")
            assert rolled == sent + total(client, "vports", db1, "BYTES_IN"), resource
        assert settled(client, "egressaclentrytemplates", icmp["ID"], "EGRESS_PACKET_COUNT", 1) == 1
        assert total(client, "egressaclentrytemplates", unlogged["ID"], "EGRESS_PACKET_COUNT") == 0
        hosts = {v["name"]: v["ID"] for v in client.list_all("vrss")}
        assert total(client, "vrss", hosts[system.host_id("h1")], "BYTES_IN") >= sent
        scraped = httpx.get(f"http://{metrics}/metrics").text
        line = f'overcast_agent_domain_bytes_total{{direction="in",domain="{site["domain"]}"}}'
        found = [float(text.split()[-1]) for text in scraped.splitlines() if text.startswith(line)]
        assert found and found[0] >= wire, scraped

        # Collection off for db1: its series stops, web1's goes on.
        client.create(f"vports/{db1}/statisticspolicies", {"name": "off", "dataCollectionFrequency": 0})
        system.wait_matching()
        sh("ip", "netns", "exec", site["netns"]["web1"], "ping", "-q", "-c", "10", "-i", "0.01", "-s", "1400",
           site["ips"]["db1"])  # fmt: skip
        settled(client, "vports", web1, "BYTES_IN", sent + 10 * 1442)
        assert total(client, "vports", db1, "BYTES_OUT") == received
    finally:
        system.close()
