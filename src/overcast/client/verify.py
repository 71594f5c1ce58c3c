"""Proving the model's explanations against packets, as a client of the agents' local APIs and
the controller (``overcast policy verify``, and the demo's last step).

For each sample (:func:`overcast.policy.verify.choose`) between real endpoints of the hosts whose
agents it reaches, it asks the controller which entry decides, reads the deciding hosts'
counters, sends the probe from the source endpoint's namespace (the agent's ``/probe``), reads
the counters again and reports every disagreement (:func:`overcast.policy.verify.disagreements`).
"""

from __future__ import annotations

import random
from typing import Any

from ..agent.client import AgentClient, AgentClientError
from ..policy import verify
from .controller import ControllerClient

_PROTOCOL_NUMBERS = {"tcp": 6, "icmp": 1}


def _counts(agents: dict[str, AgentClient], hosts: set[str]) -> verify.Counts:
    counts: dict[str, Any] = {}
    for host in hosts:
        if host in agents:
            domains = agents[host].counters()["domains"]
            counts[host] = {
                domain: {d: {e: v[0] for e, v in counted.get(d, {}).items()} for d in ("ingress", "egress")}
                for domain, counted in domains.items()
            }
    return counts


def run_verify(
    agents: dict[str, AgentClient], control: ControllerClient, samples: int, seed: int | None, timeout: float
) -> dict[str, Any]:
    endpoints, ports = [], set()
    for host, agent in agents.items():
        for view in agent.state()["domains"]:
            for e in view["local"]:
                if e["ip"]:
                    endpoints.append(verify.Endpoint(e["vport_id"], view["id"], e["ip"], host, True))
            for rule in (*view["ingress"], *view["egress"]):
                if rule["protocol"] == 6 and rule["destination_ports"]:
                    ports.add(rule["destination_ports"][0])
    chosen = verify.choose(endpoints, sorted(ports), samples, random.Random(seed))
    results: list[dict[str, Any]] = []
    for sample in chosen:
        reply = control.explain(
            sample.source.vport_id,
            sample.destination.vport_id,
            _PROTOCOL_NUMBERS[sample.protocol],
            sample.port,
            8 if sample.protocol == "icmp" else -1,
        )
        ingress = verify.Judgement(reply.ingress.allowed, reply.ingress.decided_by, reply.ingress.host_id)
        egress = (
            verify.Judgement(reply.egress.allowed, reply.egress.decided_by, reply.egress.host_id)
            if reply.ingress.allowed
            else None
        )
        explanation = verify.Explanation(reply.allowed, ingress, egress)
        hosts = {ingress.host_id} | ({egress.host_id} if egress else set())
        before = _counts(agents, hosts)
        try:
            probed = agents[sample.source.host_id].probe(
                sample.source.vport_id, sample.destination.ip, sample.protocol, sample.port, timeout
            )
        except AgentClientError as exc:
            results.append({"sample": _describe(sample), "skipped": str(exc)})
            continue
        after = _counts(agents, hosts)
        found = verify.disagreements(sample, explanation, bool(probed["reached"]), before, after)
        results.append(
            {
                "sample": _describe(sample),
                "model": {"allowed": reply.allowed, "ingress": ingress.decided_by,
                          "egress": egress.decided_by if egress else None},
                "datapath": {"reached": probed["reached"], "seen": probed["detail"]},
                "disagreements": found,
            }
        )  # fmt: skip
    wrong = [r for r in results if r.get("disagreements")]
    return {
        "samples": len(results),
        "agreed": sum(1 for r in results if "disagreements" in r and not r["disagreements"]),
        "skipped": sum(1 for r in results if "skipped" in r),
        "disagreements": len(wrong),
        "results": results,
    }


def _describe(sample: verify.Sample) -> str:
    service = f"tcp/{sample.port}" if sample.protocol == "tcp" else "icmp"
    return f"{sample.source.ip} -> {sample.destination.ip} {service}"
