"""Cross-host TCP throughput through the Linux dataplane (iperf3), with and without a realistic
policy loaded, beside a plain veth pair as the ceiling (root only).

Two simulated hosts on an underlay bridge, one endpoint on each, the same overlay path (veth →
bridge → VXLAN → underlay → VXLAN → bridge → veth) measured twice in one run:

* **no rules** — the firewall with no ACL entries and allow-all defaults;
* **realistic policy** — 100 policy groups of 200 addresses (20,000 set elements) and 700 rules
  (7 per group, each naming another group and a port), the measured flow allowed by the last.

Both hosts share this machine's CPUs, so the figures are the CPU cost of the path, not a NIC's.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from typing import Any

from ..dataplane.base import Attachment
from ..dataplane.change import Change
from ..dataplane.linux.driver import LinuxDataplane
from ..lab import Lab, sh
from ..policy.compiler import (
    Defaults,
    DomainInfo,
    Endpoint,
    Key,
    Rule,
    RuleSet,
    Subnet,
    endpoint_key,
    rules_key,
    set_entries,
    subnet_key,
)
from ..protocol.codec import encode_entry

DOMAIN = "iperf-domain"
SUBNET = Subnet("iperf-subnet", "zone", "10.30.0.0/16", "10.30.0.1", "02:ac:00:00:00:30", 4300)
GROUPS, MEMBERS, RULES_PER_GROUP = 100, 200, 7
IPERF_PORT = 5201


def _group(index: int) -> str:
    return f"pg:group-{index}"


def _policy(endpoints: list[Endpoint], *, realistic: bool) -> dict[Key, Any]:
    entries: dict[Key, Any] = {
        ("domain", DOMAIN): DomainInfo(DOMAIN, "bench", False),
        subnet_key(DOMAIN, SUBNET): SUBNET,
        **{endpoint_key(DOMAIN, e.vport_id): e for e in endpoints},
    }
    if not realistic:
        for direction in ("ingress", "egress"):
            entries[rules_key(DOMAIN, direction)] = RuleSet(direction, (), Defaults(True, True))
        return entries
    source, destination = endpoints
    for index in range(GROUPS):
        members = {
            f"10.{64 + index // 50}.{(index % 50) * 5 + m // 250}.{m % 250 + 1}/32" for m in range(MEMBERS)
        }
        if index == 0:
            members = set(list(members)[:-1]) | {f"{source.ip}/32"}
        if index == 1:
            members = set(list(members)[:-1]) | {f"{destination.ip}/32"}
        entries.update(set_entries(DOMAIN, _group(index), members))
    for direction in ("ingress", "egress"):
        rules = [
            Rule(
                f"{direction}-{g}-{k}",
                "FORWARD",
                _group(g),
                _group((g + k + 2) % GROUPS),
                6,
                None,
                (1000 + k, 1000 + k),
                None,
                None,
                0x0800,
                True,
            )
            for g in range(GROUPS)
            for k in range(RULES_PER_GROUP)
        ]
        local, remote = (0, 1) if direction == "ingress" else (1, 0)
        rules[-1] = Rule(
            f"{direction}-iperf",
            "FORWARD",
            _group(local),
            _group(remote),
            6,
            None,
            (IPERF_PORT, IPERF_PORT),
            None,
            None,
            0x0800,
            True,
        )
        entries[rules_key(DOMAIN, direction)] = RuleSet(direction, tuple(rules), Defaults(False, False))
    return entries


def _iperf(client_ns: str, server_ns: str, address: str, seconds: float) -> tuple[float, int]:
    """One TCP stream for ``seconds``: (receiver Gbit/s, retransmits)."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", str(IPERF_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):  # the server is listening once a client can connect
            result = sh(
                "ip",
                "netns",
                "exec",
                client_ns,
                "iperf3",
                "-c",
                address,
                "-p",
                str(IPERF_PORT),
                "-t",
                str(seconds),
                "-J",
                check=False,
            )
            try:
                report = json.loads(result.stdout)["end"]
                received, sent = report["sum_received"], report["sum_sent"]
            except (ValueError, KeyError):  # not listening yet, or the run broke off: again
                time.sleep(0.1)
                continue
            return received["bits_per_second"] / 1e9, sent.get("retransmits", 0)
        raise RuntimeError(f"iperf3 to {address} failed: {result.stdout[-300:]} {result.stderr[-300:]}")
    finally:
        server.kill()
        server.wait()


def _summary(samples: list[tuple[float, int]]) -> dict[str, Any]:
    rates = sorted(s[0] for s in samples)
    return {
        "gbit_per_s_median": round(statistics.median(rates), 2),
        "gbit_per_s_min": round(rates[0], 2),
        "gbit_per_s_max": round(rates[-1], 2),
        "retransmits_median": statistics.median(s[1] for s in samples),
        "runs": len(samples),
    }


def measure(seconds: float = 5.0, runs: int = 3) -> dict[str, Any]:
    lab = Lab()
    dataplanes: list[LinuxDataplane] = []
    try:
        endpoints, containers = [], []
        for index, short in enumerate(("h1", "h2"), 1):
            host_ns = lab.host(short, f"10.99.0.{index}")
            host_id = f"{lab.tag}{short}"
            dataplane = LinuxDataplane(host_id, f"10.99.0.{index}", host_netns=host_ns)
            dataplanes.append(dataplane)
            mac, ip = f"02:00:00:00:30:{index:02x}", f"10.30.0.{index + 1}"
            containers.append(lab.container(f"iperf{index}"))
            dataplane.attach(Attachment(f"vport-{index}", mac, containers[-1]))
            endpoints.append(
                Endpoint(f"vport-{index}", mac, ip, SUBNET.id, "zone", host_id, f"10.99.0.{index}")
            )
        # The two variants alternate run by run, so drift on the machine (other work, the kernel
        # still tearing down an earlier benchmark's namespaces) falls on both alike.
        variants = {"overlay_no_rules": False, "overlay_realistic_policy": True}
        encoded = {
            name: {k: encode_entry(k, v) for k, v in _policy(endpoints, realistic=realistic).items()}
            for name, realistic in variants.items()
        }
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
        for _ in range(runs):
            for name in variants:
                for dataplane in dataplanes:
                    dataplane.apply(Change(snapshot=True, upserts=dict(encoded[name])))
                samples[name].append(_iperf(containers[0], containers[1], endpoints[1].ip or "", seconds))
        figures: dict[str, Any] = {name: _summary(found) for name, found in samples.items()}
        # The ceiling: two namespaces joined by a plain veth pair, same MTU.
        left, right = lab.container("veth-l"), lab.container("veth-r")
        sh(
            "ip",
            "-n",
            left,
            "link",
            "add",
            "p0",
            "mtu",
            "1450",
            "type",
            "veth",
            "peer",
            "name",
            "p1",
            "mtu",
            "1450",
            "netns",
            right,
        )
        for ns, dev, addr in ((left, "p0", "10.31.0.1/24"), (right, "p1", "10.31.0.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        figures["plain_veth"] = _summary([_iperf(left, right, "10.31.0.2", seconds) for _ in range(runs)])
        figures["ratio_policy_vs_no_rules"] = round(
            figures["overlay_realistic_policy"]["gbit_per_s_median"]
            / figures["overlay_no_rules"]["gbit_per_s_median"],
            3,
        )
        figures["policy"] = {
            "groups": GROUPS,
            "set_elements": GROUPS * MEMBERS,
            "rules": GROUPS * RULES_PER_GROUP,
        }
        figures["seconds_per_run"] = seconds
        return figures
    finally:
        for dataplane in dataplanes:
            dataplane.close()
        lab.close()


#: North-south: the floating IP the outside reaches, and the outside client's network.
FLOATING_IP = "203.0.113.30"


def measure_north_south(seconds: float = 5.0, runs: int = 3) -> dict[str, Any]:
    """Outside client → endpoint through the host's NAT (its floating IP) against the same path
    routed without NAT (its subnet advertised), alternating run by run; allow-all policy. One
    host behind a router namespace (a static route stands in for what BGP announces)."""
    lab = Lab()
    dataplane: LinuxDataplane | None = None
    try:
        host_ns = lab.host("h1", "10.99.0.1")
        router, client, _ = lab.outside()
        host_id = f"{lab.tag}h1"
        dataplane = LinuxDataplane(host_id, "10.99.0.1", host_netns=host_ns)
        container = lab.container("iperf-ns")
        mac, ip = "02:00:00:00:31:01", "10.30.0.2"
        dataplane.attach(Attachment("vport-ns", mac, container))
        for prefix in (f"{FLOATING_IP}/32", SUBNET.prefix):
            sh("ip", "-n", router, "route", "replace", prefix, "via", "10.99.0.1")
        variants = {"through_nat": True, "routed": False}
        encoded = {}
        for name, nat in variants.items():
            subnet = SUBNET._replace(advertise=not nat)
            endpoint = Endpoint("vport-ns", mac, ip, SUBNET.id, "zone", host_id, "10.99.0.1",
                                FLOATING_IP if nat else None)  # fmt: skip
            entries: dict[Key, Any] = {
                ("domain", DOMAIN): DomainInfo(DOMAIN, "bench", False),
                subnet_key(DOMAIN, subnet): subnet,
                endpoint_key(DOMAIN, endpoint.vport_id): endpoint,
                **{rules_key(DOMAIN, d): RuleSet(d, (), Defaults(True, True)) for d in ("ingress", "egress")},
            }
            encoded[name] = {k: encode_entry(k, v) for k, v in entries.items()}
        samples: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, nat in variants.items():
                dataplane.apply(Change(snapshot=True, upserts=dict(encoded[name])))
                samples[name].append(_iperf(client, container, FLOATING_IP if nat else ip, seconds))
        figures: dict[str, Any] = {name: _summary(found) for name, found in samples.items()}
        figures["ratio_nat_vs_routed"] = round(
            figures["through_nat"]["gbit_per_s_median"] / figures["routed"]["gbit_per_s_median"], 3
        )
        figures["seconds_per_run"] = seconds
        return figures
    finally:
        if dataplane is not None:
            dataplane.close()
        lab.close()
