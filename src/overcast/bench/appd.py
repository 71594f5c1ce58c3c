"""``overcast bench appd``: the application designer and compliance admission at work.

The directory runs as its own process on SQLite (``bench.directory.directory_process``);
the client sends requests over one keep-alive connection.

1. **Instances.** One enterprise, one domain, the three-tier WordPress template (a clients
   macro tier, web, app and db; clients → web tcp/80, web → app tcp/8080, app → db tcp/3306);
   ``--instances`` applications instantiated from it, each with its own /16 pool (a zone, three
   subnets, four templates, the entries). Reported: total seconds, per-instance latency
   p50/p99, objects deployed.
2. **Admission.** ``--endpoints-per-tier`` endpoints (vport + container) in every tier of the
   first ``--populated`` instances; then ``--writes`` single writes (a vport created in a web
   subnet, the judged kind agents' runtimes write most) timed without compliance policies and
   again with three ENFORCE policies of the enterprise loaded (two "no flow" guards and a
   "must reach"), alternating writes between rounds to share the machine's noise.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from ..client.vsd import VsdClient
from .directory import LeanClient, directory_process
from .stats import machine, summary_ms

TARGET_WRITE_P99_MS = 20
POLICIES = {
    "no ssh": "no flow from any to any on tcp/22",
    "no dns out": "no flow from any to macro:internet on udp/53",
    "wordpress db": "tier:wp-0/app must reach tier:wp-0/db on tcp/3306",
}


def _mac() -> str:
    return "02:" + ":".join(f"{b:02x}" for b in uuid.uuid4().bytes[:5])


def _ok(status: int, body: Any, what: str) -> Any:
    if status >= 300:
        raise RuntimeError(f"{what}: HTTP {status} {body}")
    return body


def build_template(client: VsdClient, enterprise_id: str) -> str:
    services = {
        name: client.create(
            f"enterprises/{enterprise_id}/appdservices",
            {"name": name, "protocol": "6", "destinationPort": port},
        )["ID"]
        for name, port in (("http", "80"), ("php", "8080"), ("mysql", "3306"))
    }
    template = client.create(f"enterprises/{enterprise_id}/appdapplicationtemplates", {"name": "wordpress"})
    base = f"appdapplicationtemplates/{template['ID']}"
    tiers = {
        "clients": client.create(
            f"{base}/appdtiers",
            {"name": "clients", "type": "NETWORK_MACRO", "address": "0.0.0.0", "netmask": "0.0.0.0"},
        )["ID"]
    }
    for tier in ("web", "app", "db"):
        tiers[tier] = client.create(f"{base}/appdtiers", {"name": tier, "type": "STANDARD"})["ID"]
    for origin, destination, service in (
        ("clients", "web", "http"),
        ("web", "app", "php"),
        ("app", "db", "mysql"),
    ):
        client.create(
            f"{base}/appdflows",
            {
                "name": f"{origin}-to-{destination}",
                "originTierID": tiers[origin],
                "destinationTierID": tiers[destination],
                "applicationServiceIDs": [services[service]],
            },
        )
    return str(template["ID"])


def run(
    output: str,
    *,
    instances: int = 100,
    populated: int = 10,
    endpoints_per_tier: int = 2,
    writes: int = 200,
) -> dict[str, Any]:
    if not 1 <= instances <= 250:
        raise ValueError("--instances is 1-250 (each takes a /16 of 10.0.0.0/8)")
    report: dict[str, Any] = {
        "machine": machine(),
        "parameters": {
            "instances": instances,
            "populated": populated,
            "endpoints_per_tier": endpoints_per_tier,
            "writes": writes,
        },
    }
    with directory_process("sqlite:///" + str(Path(output).with_suffix(".db").resolve())) as url:
        client = VsdClient(url)
        client.login()
        lean = LeanClient(url, client.api_key or "")
        ent = client.create("enterprises", {"name": "acme"})
        dt = client.create(f"enterprises/{ent['ID']}/domaintemplates", {"name": "shop"})
        domain = client.create(f"enterprises/{ent['ID']}/domains", {"name": "shop", "templateID": dt["ID"]})
        client.create(
            f"enterprises/{ent['ID']}/enterprisenetworks",
            {"name": "internet", "address": "0.0.0.0", "netmask": "0.0.0.0"},
        )
        template = build_template(client, ent["ID"])

        latencies, deployed = [], 0
        began = time.perf_counter()
        for i in range(instances):
            status, body, elapsed = lean.call(
                "POST",
                f"enterprises/{ent['ID']}/appdapplications",
                {
                    "name": f"wp-{i}",
                    "associatedDomainID": domain["ID"],
                    "templateID": template,
                    "addressPool": f"10.{i}.0.0/16",
                },
            )
            deployed += _ok(status, body, f"instance {i}")[0]["generatedObjects"]
            latencies.append(elapsed)
        report["instances"] = {
            "count": instances,
            "total_seconds": round(time.perf_counter() - began, 2),
            "objects_deployed": deployed,
            "per_instance": summary_ms(latencies),
        }

        subnets = {s["name"]: s["ID"] for s in client.list_all(f"domains/{domain['ID']}/subnets")}
        for i in range(min(populated, instances)):
            for tier in ("web", "app", "db"):
                for n in range(endpoints_per_tier):
                    vport = _ok(
                        *lean.call(
                            "POST",
                            f"subnets/{subnets[f'wp-{i} - {tier}']}/vports",
                            {"name": f"{tier}{n}", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
                        )[:2],
                        "vport",
                    )[0]
                    _ok(
                        *lean.call(
                            "POST",
                            "containers",
                            {
                                "name": f"wp-{i}-{tier}{n}",
                                "UUID": str(uuid.uuid4()),
                                "interfaces": [{"MAC": _mac(), "VPortID": vport["ID"]}],
                            },
                        )[:2],
                        "container",
                    )
        web_subnets = [subnets[f"wp-{i} - web"] for i in range(min(populated, instances))]

        def timed_writes(round_name: str, count: int) -> list[float]:
            out = []
            for n in range(count):
                status, body, elapsed = lean.call(
                    "POST",
                    f"subnets/{web_subnets[n % len(web_subnets)]}/vports",
                    {"name": f"{round_name}-{n}", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
                )
                _ok(status, body, "timed write")
                out.append(elapsed)
            return out

        without = timed_writes("plain", writes)
        for name, text in POLICIES.items():
            created = client.create(
                f"enterprises/{ent['ID']}/compliancepolicies", {"name": name, "mode": "ENFORCE", "text": text}
            )
            if created.get("violationCount"):
                raise RuntimeError(f"policy {name!r} is violated by the benchmark's own design")
        judged = timed_writes("judged", writes)
        endpoints = min(populated, instances) * 3 * endpoints_per_tier
        report["admission"] = {
            "endpoints": endpoints,
            "policies": len(POLICIES),
            "without_policies": summary_ms(without),
            "with_enforce_policies": summary_ms(judged),
            "target_p99_ms": TARGET_WRITE_P99_MS,
        }
    Path(output).with_suffix(".db").unlink(missing_ok=True)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report
