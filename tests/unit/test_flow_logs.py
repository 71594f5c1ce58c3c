"""Flow logs, pure parts: logging rules change no verdict (every behaviour scenario, with every
entry logged and default denies logged, still agrees with the oracle through the memory
dataplane's model of nftables), a record names what the prefix says, the agent's ring and
forwarding budget are bounded, and NFLOG messages parse."""

from __future__ import annotations

import socket
import struct

import pytest

from overcast.agent.flows import FlowLog, log_prefix, record_of
from overcast.dataplane.linux import nftables
from overcast.dataplane.linux.nflog import parse_messages
from overcast.policy.compiler import compile_hosts

from ..support.behaviour import SCENARIOS
from .test_memory_dataplane import disagreements


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_logging_changes_no_verdict(name: str) -> None:
    scenario = SCENARIOS[name]()
    objects = scenario.world.state.objects
    for kind in ("ingressaclentrytemplate", "egressaclentrytemplate"):
        for entry in objects[kind].values():
            entry["flowLoggingEnabled"] = True
    for domain in objects["domain"].values():
        domain["flowCollectionEnabled"] = "ENABLED"
    views = [view for host in compile_hosts(scenario.world.state).values() for view in host.domains]
    scripts = [nftables.ruleset(view) for view in views]
    judged = any(
        any(r.ether_type in (None, 0x0800) for r in (*v.ingress, *v.egress))
        or not (v.ingress_defaults.allow_ip and v.egress_defaults.allow_ip)
        for v in views
    )
    assert judged == any(" log prefix " in script for script in scripts)
    assert not disagreements(scenario)


def test_a_record_names_what_the_prefix_says() -> None:
    prefix = log_prefix("egress", False, "e-1")
    assert prefix == "ov|E|D|e-1"
    record = record_of(prefix, (6, "10.0.0.2", 40000, "10.0.0.3", 22, 60), now=1.0, host="h1",
                       domain_id="d1", vports={"10.0.0.3": "v3"})  # fmt: skip
    assert record is not None
    assert (record.direction, record.verdict, record.entry_id) == ("egress", "DENY", "e-1")
    assert (record.source_vport, record.destination_vport) == (None, "v3")
    assert (
        record_of("someone else's", (6, "a", 1, "b", 2, 3), now=1, host="h", domain_id="d", vports={}) is None
    )


def test_the_ring_and_the_budget_are_bounded() -> None:
    log = FlowLog(capacity=100, rate=0.0, burst=10)
    record = record_of("ov|I|A|e", (17, "a", 1, "b", 2, 40), now=0, host="h", domain_id="d", vports={})
    assert record is not None
    log.add([record] * 1000)
    forwarded, dropped = log.take()
    assert len(log.records) == 100 and len(forwarded) == 10 and dropped == 990
    assert log.take() == ([], 0) and log.logged == 1000 and log.dropped_total == 990


def _attribute(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def test_nflog_packet_messages_parse() -> None:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 60, 1, 0, 64, 6, 0, socket.inet_aton("10.0.0.2"),
                     socket.inet_aton("10.0.0.3"))  # fmt: skip
    payload = ip + struct.pack("!HH", 40000, 22) + b"\0" * 16
    body = struct.pack("!BBH", 2, 0, 7) + _attribute(10, b"ov|E|D|default\0") + _attribute(9, payload)
    message = struct.pack("=IHHII", 16 + len(body), 4 << 8, 0, 0, 0) + body
    other = struct.pack("=IHHII", 16, 3, 0, 0, 0)  # NLMSG_DONE: skipped
    (packet,) = list(parse_messages(message + other))
    assert (packet.prefix, packet.protocol, packet.source, packet.destination) == (
        "ov|E|D|default", 6, "10.0.0.2", "10.0.0.3")  # fmt: skip
    assert (packet.source_port, packet.destination_port, packet.length) == (40000, 22, 60)
