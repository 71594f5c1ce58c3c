"""The agent's flow log: logged packets from the datapath turned into flow records, kept in a
bounded ring, and passed on to the controller and to syslog within a rate limit.

The datapath logs a flow's first packet (the rules see only new connections; the rest ride
the established flow) with a prefix naming the direction, the verdict and the deciding entry
(:func:`log_prefix`). The kernel limits each logging rule (``limit rate``: see
:mod:`overcast.dataplane.linux.nftables`); here at most ``rate`` records per second (burst
``burst``) are forwarded, the rest kept in the ring only and counted as ``dropped``. A port
scan therefore costs the controller and the disk a bounded amount, and never blocks the
datapath or the session (the ring drops its oldest).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

#: Records kept per agent (the oldest go first).
CAPACITY = 10_000
#: Records forwarded per second, and the burst allowed above it.
RATE, BURST = 200.0, 400.0

_DIRECTIONS = {"I": "ingress", "E": "egress"}
_VERDICTS = {"A": "ALLOW", "D": "DENY"}


def log_prefix(direction: str, allowed: bool, entry_id: str) -> str:
    """What a logging rule puts on a packet: ``ov|I|D|<entry ID>`` (≤ 50 characters; the
    kernel keeps 127)."""
    return f"ov|{direction[0].upper()}|{'A' if allowed else 'D'}|{entry_id}"


@dataclass(frozen=True)
class FlowRecord:
    time: float
    host: str
    domain_id: str
    direction: str
    verdict: str
    entry_id: str
    protocol: int
    source: str
    source_port: int | None
    destination: str
    destination_port: int | None
    source_vport: str | None
    destination_vport: str | None
    length: int

    def json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def record_of(
    prefix: str,
    packet: tuple[int, str, int | None, str, int | None, int],
    *,
    now: float,
    host: str,
    domain_id: str,
    vports: Mapping[str, str],
) -> FlowRecord | None:
    """A logged packet (protocol, source, source port, destination, destination port, length)
    as a record; None when the prefix is not one of Overcast's. ``vports``: the domain's
    endpoints on this host's view, address -> vport ID."""
    parts = prefix.split("|", 3)
    if len(parts) != 4 or parts[0] != "ov" or parts[1] not in _DIRECTIONS or parts[2] not in _VERDICTS:
        return None
    protocol, source, source_port, destination, destination_port, length = packet
    return FlowRecord(
        time=now,
        host=host,
        domain_id=domain_id,
        direction=_DIRECTIONS[parts[1]],
        verdict=_VERDICTS[parts[2]],
        entry_id=parts[3],
        protocol=protocol,
        source=source,
        source_port=source_port,
        destination=destination,
        destination_port=destination_port,
        source_vport=vports.get(source),
        destination_vport=vports.get(destination),
        length=length,
    )


class FlowLog:
    """The ring and the forwarding budget (a token bucket)."""

    def __init__(self, capacity: int = CAPACITY, rate: float = RATE, burst: float = BURST) -> None:
        self.records: deque[FlowRecord] = deque(maxlen=capacity)
        self.rate, self.burst = rate, burst
        self._tokens, self._refilled = burst, time.monotonic()
        self.outbox: list[FlowRecord] = []
        self.logged = 0  # records made
        self.dropped = 0  # not forwarded (over the rate), since the last take
        self.dropped_total = 0

    def add(self, records: Iterable[FlowRecord]) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        for record in records:
            self.logged += 1
            self.records.append(record)
            if self._tokens >= 1 and len(self.outbox) < self.records.maxlen:  # type: ignore[operator]
                self._tokens -= 1
                self.outbox.append(record)
            else:
                self.dropped += 1
                self.dropped_total += 1

    def take(self) -> tuple[list[FlowRecord], int]:
        """What to forward now, and how many were not forwarded since the last take."""
        out, dropped = self.outbox, self.dropped
        self.outbox, self.dropped = [], 0
        return out, dropped

    def recent(self, limit: int | None = None) -> list[FlowRecord]:
        items = list(self.records)
        return items[-limit:] if limit else items
