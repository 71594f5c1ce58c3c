"""A published policy draft reaches the datapath whole: 120 egress entries move from ports
31000-31119 to 32000-32119 in a draft, and while the draft is applied the kernel's ruleset at
the destination host, read again and again, only ever holds all the old ports or all the new
ones; real connections follow the published policy."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from overcast.lab import Lab, sh

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, web_and_db

pytestmark = [pytest.mark.slow, *needs_root]

ENTRIES = 120
OLD, NEW = 31000, 32000


def ports_in(ruleset: str) -> tuple[int, int]:
    ports = [int(p) for p in re.findall(r"dport (\d+)", ruleset)]
    return sum(OLD <= p < OLD + ENTRIES for p in ports), sum(NEW <= p < NEW + ENTRIES for p in ports)


def test_a_published_draft_is_never_half_applied(lab: Lab, tmp_path: Path) -> None:
    system = ProcessSystem(tmp_path, {"h1": "10.99.0.1", "h2": "10.99.0.2"}, lab=lab)
    try:
        site = web_and_db(system, lab, "10.6.0.0")
        client, domain, netns, ips = site["client"], site["domain"], site["netns"], site["ips"]
        client.create_many(
            f"egressacltemplates/{site['egress']}/egressaclentrytemplates",
            [
                {
                    "action": "FORWARD",
                    "protocol": "6",
                    "destinationPort": str(OLD + i),
                    "priority": i + 1,
                    "stateful": True,
                    "locationType": "POLICYGROUP",
                    "locationID": site["db"],
                    "networkType": "POLICYGROUP",
                    "networkID": site["web"],
                }
                for i in range(ENTRIES)
            ],
        )
        for port in (OLD, OLD + ENTRIES - 1, NEW, NEW + ENTRIES - 1):
            lab.listen(netns["db1"], "tcp", port)
        system.wait_matching()
        assert lab.connects(netns["web1"], "tcp", ips["db1"], OLD + ENTRIES - 1)
        assert not lab.connects(netns["web1"], "tcp", ips["db1"], NEW, timeout=0.5)

        client.create(f"domains/{domain}/jobs", {"command": "BEGIN_POLICY_CHANGES"})
        (draft,) = [
            t for t in client.list_all(f"domains/{domain}/egressacltemplates") if t["policyState"] == "DRAFT"
        ]
        for entry in client.list_all(f"egressacltemplates/{draft['ID']}/egressaclentrytemplates"):
            client.update(
                f"egressaclentrytemplates/{entry['ID']}",
                {"destinationPort": str(NEW + int(entry["destinationPort"]) - OLD)},
            )
        system.wait_matching()
        assert lab.connects(netns["web1"], "tcp", ips["db1"], OLD)  # the draft is not live
        db_namespace = next(
            n for n in sh("ip", "netns", "list").stdout.split() if n.startswith(f"ovc-{lab.tag}h2-")
        )

        samples: list[tuple[int, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                ruleset = sh("ip", "netns", "exec", db_namespace, "nft", "list", "ruleset").stdout
                samples.append(ports_in(ruleset))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            applied = client.create(f"domains/{domain}/jobs", {"command": "APPLY_POLICY_CHANGES"})
            system.wait_matching()
            done.wait(0.5)  # a few samples of the new policy too
        finally:
            done.set()
            sampler.join()
        assert applied["result"]["updated"] == ENTRIES and applied["result"]["kept"] == 0
        assert set(samples) <= {(ENTRIES, 0), (0, ENTRIES)}, sorted(set(samples))
        assert samples[0] == (ENTRIES, 0) and samples[-1] == (0, ENTRIES)
        assert lab.connects(netns["web1"], "tcp", ips["db1"], NEW + ENTRIES - 1)
        assert not lab.connects(netns["web1"], "tcp", ips["db1"], OLD, timeout=0.5)
    finally:
        system.close()
