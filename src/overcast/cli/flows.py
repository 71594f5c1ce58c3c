"""``overcast flows``: the flow logs of the whole system, like ``hubble observe``."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..client.controller import ControllerClient
from ..protocol import controller_pb2 as pb
from .client import AsJson, Controller, Org, Password, Url, User, _errors, _print_json, out, settings

_PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp"}
_DURATION = re.compile(r"(\d+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> int:
    """``5m``, ``2h``, ``30s``, ``1d`` ago (or seconds since the epoch) -> milliseconds."""
    found = _DURATION.fullmatch(text.strip())
    if found:
        return int((time.time() - int(found[1]) * _SECONDS[found[2]]) * 1000)
    if text.strip().isdigit():
        return int(text) * 1000
    raise typer.BadParameter(f"{text!r}: give a duration such as 30s, 5m, 2h or 1d")


def record_json(record: pb.FlowRecord) -> dict[str, Any]:
    return {
        "time": record.time_ms / 1000,
        "host": record.host_id,
        "enterprise": record.enterprise,
        "domain": record.domain or record.domain_id,
        "direction": record.direction,
        "verdict": record.verdict,
        "entry": record.entry_id,
        "entry_description": record.entry_description,
        "protocol": _PROTOCOLS.get(record.protocol, str(record.protocol)),
        "source": {"name": record.source_name, "vport": record.source_vport, "address": record.source,
                   "port": record.source_port},
        "destination": {"name": record.destination_name, "vport": record.destination_vport,
                        "address": record.destination, "port": record.destination_port},
        "length": record.length,
    }  # fmt: skip


def _end(name: str, address: str, port: int, protocol: int) -> str:
    where = f"{address}:{port}" if protocol in (6, 17) else address
    return f"{escape(name)} ({where})" if name else where


def record_line(record: pb.FlowRecord) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(record.time_ms / 1000)) + f".{record.time_ms % 1000:03d}"
    protocol = _PROTOCOLS.get(record.protocol, str(record.protocol))
    if record.protocol == 1:
        protocol += f" type {record.source_port}"
    verdict = "[green]ALLOW[/]" if record.verdict == "ALLOW" else "[red]DENY[/]"
    entry = record.entry_description or record.entry_id
    return (
        f"{stamp} {record.host_id} {escape(record.domain or record.domain_id)} "
        f"{_end(record.source_name, record.source, record.source_port, record.protocol)} -> "
        f"{_end(record.destination_name, record.destination, record.destination_port, record.protocol)} "
        f"{protocol} {verdict} by {record.direction} {escape(entry)}"
    )


def flows(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new records.")] = False,
    verdict: Annotated[str | None, typer.Option(help="ALLOW or DENY only.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Flows of this endpoint (vport name or ID).")] = None,
    domain: Annotated[str | None, typer.Option(help="Flows of this domain (name or ID).")] = None,
    since: Annotated[str | None, typer.Option(help="Only records this recent: 30s, 5m, 2h, 1d.")] = None,
    last: Annotated[int, typer.Option(help="The most recent records to show first (0: all kept).")] = 100,
    as_json: AsJson = False,
    controller: Controller = None,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Flow logs of every host: each logged flow's first packet, its verdict and the ACL entry
    (or default) that decided it. Logged: entries with flowLoggingEnabled, and the default
    denies of domains with flowCollectionEnabled=ENABLED. A tenant sees its own domains.

    Example: [bold]overcast flows --verdict DENY --since 5m[/]
    """
    if verdict is not None and verdict.upper() not in ("ALLOW", "DENY"):
        raise typer.BadParameter("ALLOW or DENY", param_hint="--verdict")
    request = pb.FlowsRequest(
        follow=follow, verdict=(verdict or "").upper(), endpoint=endpoint or "", domain=domain or "",
        since_ms=parse_since(since) if since else 0, limit=max(0, last),
    )  # fmt: skip
    s = settings(url, user, password, org, controller)
    with _errors(), ControllerClient(s.controller, credentials=(s.org, s.user, s.password)) as client:
        if as_json and not follow:
            _print_json([record_json(r) for r in client.flows(request)])
            return
        try:
            for record in client.flows(request):
                if as_json:
                    import json

                    print(json.dumps(record_json(record)), flush=True)
                else:
                    out.print(record_line(record), highlight=False, soft_wrap=True)
        except KeyboardInterrupt:
            pass
