"""Flow logs from real packets: a connection an entry with flowLoggingEnabled allows, and one
the default denies of a domain with flowCollectionEnabled, appear in ``overcast flows`` (the
whole system, through the controller) naming the deciding entry — the denied one within 2 s —
and on a syslog server as JSON lines. A port scan of 2,000 ports is logged within the kernel's
rate limit (the default's counter still counts every SYN), and the agent stays responsive."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from overcast.lab import Lab

from ...support.lab import needs_root
from ...support.processes import ProcessSystem, cli_ok, web_and_db

pytestmark = [pytest.mark.slow, *needs_root]

SCAN = """
import socket, sys, time
sockets = []
for port in range(20000, 22000):
    s = socket.socket(); s.setblocking(False)
    try: s.connect((sys.argv[1], port))
    except BlockingIOError: pass
    sockets.append(s)
time.sleep(0.5)
"""


def flows(system: ProcessSystem, *args: str) -> list[dict[str, Any]]:
    result = system.operator_cli("flows", "--json", *args)
    assert result.returncode == 0, result.stderr + result.stdout
    import json

    return list(json.loads(result.stdout))


def wait_for(what: str, probe: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_flow_logs_name_the_deciding_entry(lab: Lab, tmp_path: Path) -> None:
    syslog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    syslog.bind(("127.0.0.1", 0))
    syslog.settimeout(5)
    system = ProcessSystem(
        tmp_path,
        {"h1": "10.99.0.1", "h2": "10.99.0.2"},
        lab=lab,
        agent_args={"h2": ("--flow-syslog", f"127.0.0.1:{syslog.getsockname()[1]}")},
    )
    try:
        site = web_and_db(system, lab, "10.7.0.0")
        client = site["client"]
        client.update(f"domains/{site['domain']}", {"flowCollectionEnabled": "ENABLED"})
        mysql = client.create(
            f"egressacltemplates/{site['egress']}/egressaclentrytemplates",
            {"action": "FORWARD", "protocol": "6", "destinationPort": "3306", "stateful": True,
             "priority": 10, "locationType": "POLICYGROUP", "locationID": site["db"],
             "networkType": "POLICYGROUP", "networkID": site["web"], "flowLoggingEnabled": True,
             "description": "web to mysql"},
        )  # fmt: skip
        web1, db1 = site["netns"]["web1"], site["netns"]["db1"]
        lab.listen(db1, "tcp", 3306)
        system.wait_matching()

        assert lab.connects(web1, "tcp", site["ips"]["db1"], 3306)
        allowed = wait_for("the allowed flow", lambda: flows(system, "--verdict", "ALLOW"))
        assert allowed[-1]["entry"] == mysql["ID"] and allowed[-1]["entry_description"] == "web to mysql"
        assert allowed[-1]["source"]["name"] == "web1" and allowed[-1]["destination"]["name"] == "db1"
        assert allowed[-1]["destination"]["port"] == 3306 and allowed[-1]["direction"] == "egress"
        assert allowed[-1]["domain"] and allowed[-1]["enterprise"] == "acme"
        line = syslog.recv(4096).decode()
        assert "overcast-flow:" in line and mysql["ID"] in line

        attempted = time.monotonic()
        assert not lab.connects(web1, "tcp", site["ips"]["db1"], 22, timeout=0.3)
        denied = wait_for(
            "the denied flow",
            lambda: [f for f in flows(system, "--verdict", "DENY", "--endpoint", "db1")
                     if f["destination"]["port"] == 22],
            timeout=2.0 - (time.monotonic() - attempted),
        )  # fmt: skip
        assert denied[0]["entry"] == "default" and denied[0]["host"] == system.host_id("h2")
        assert flows(system, "--verdict", "DENY", "--endpoint", "nobody") == []

        # A port scan: every SYN counted, few logged, the agent still answers.
        before = cli_ok("agent", "counters", "--socket", str(system.socket("h2")))
        default_before = before["domains"][site["domain"]]["egress"]["default"][0]
        subprocess.run(["ip", "netns", "exec", web1, sys.executable, "-c", SCAN, site["ips"]["db1"]],
                       check=True, timeout=60)  # fmt: skip
        time.sleep(1.5)
        after = cli_ok("agent", "counters", "--socket", str(system.socket("h2")))
        assert after["domains"][site["domain"]]["egress"]["default"][0] - default_before >= 2000
        logged = cli_ok("agent", "state", "--socket", str(system.socket("h2")))  # responsive
        assert logged
        scan = [f for f in flows(system, "--verdict", "DENY", "--last", "0")
                if 20000 <= f["destination"]["port"] < 22000]  # fmt: skip
        # 50/s with a burst of 50 while the scan lasted (~1 s): far fewer than 2,000.
        assert 0 < len(scan) <= 200, len(scan)
    finally:
        system.close()
        syslog.close()
