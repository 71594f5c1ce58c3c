"""``overcast bench paths``: the compiler, the Linux driver's plan and its ruleset generator
checked against the reachability oracle at the scale benchmark's size, without root.

Setup: the controller benchmark's directory (:class:`~overcast.bench.controller.Topology`: one
domain, a subnet per host, 100 policy groups, 700 ingress entries — group *g* may reach group
*g+k+1* on TCP 8000+k — and ``--endpoints`` containers bound to ``--hosts`` hosts), compiled
per host as the controller would; a memory dataplane per host given its entries.

Measured: the compile, programming each host's namespaces (the driver's plan and its nftables
script run by the model), and ``--flows`` random flows traced across hosts — half of them to
a group and port an entry allows, half anywhere — each judged by the oracle. Every flow must
agree (delivered exactly when allowed, by the same entries): ``disagreements`` is 0.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..controller.feed import load_policy_input
from ..directory.db import Store, migrate
from ..directory.service import Directory
from ..policy.compiler import compile_host_entries, compile_hosts
from ..policy.oracle import Packet
from ..testing.paths import deploy, judge
from .controller import Topology
from .stats import machine, summary_ms


def run(
    output: str, *, hosts: int = 40, endpoints: int = 20000, flows: int = 2000, seed: int = 1
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="overcast-bench-paths-"))
    try:
        store = Store(f"sqlite:///{workdir / 'directory.db'}")
        migrate(store)
        topology = Topology(Directory(store), hosts, endpoints, groups=100, per_group=7)
        began = time.perf_counter()
        topology.build()
        populate = time.perf_counter() - began
        state = load_policy_input(topology.directory)
        store.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    began = time.perf_counter()
    per_host = compile_host_entries(state)
    compile_seconds = time.perf_counter() - began
    views = compile_hosts(state)
    entries_per_host = max((len(e) for e in per_host.values()), default=0)
    dataplanes = deploy(per_host)
    del per_host
    programming = []
    for dataplane in dataplanes.values():
        began = time.perf_counter()
        dataplane.namespaces()
        programming.append(time.perf_counter() - began)

    # (vport, IP, host) of every endpoint, and each group's members
    where = {e.vport_id: (e.ip, host) for host, v in views.items() for d in v.domains for e in d.local}
    group_ids = [g["ID"] for g in topology.groups]
    members = {g: sorted(state.members.get(g, ())) for g in group_ids}
    group_of = {vport: index for index, g in enumerate(group_ids) for vport in members[g]}
    rng = random.Random(seed)
    vports = sorted(v for v in where if v in group_of)
    domain_id = topology.domain["ID"]
    results: dict[str, int] = {"allowed": 0, "denied": 0}
    wrong: list[dict[str, Any]] = []
    timings = []
    for _ in range(flows):
        src = rng.choice(vports)
        if rng.random() < 0.5:  # to a group and port an entry allows
            k = rng.randrange(7)
            dst = rng.choice(members[group_ids[(group_of[src] + k + 1) % len(group_ids)]])
            port = 8000 + k
        else:
            dst, port = rng.choice(vports), 8000 + rng.randrange(8)
        if dst == src:
            continue
        packet = Packet(str(where[src][0]), str(where[dst][0]), dport=port)
        began = time.perf_counter()
        judged, traced, differs = judge(dataplanes, views, where[src][1], packet, domain_id, dst)
        timings.append(time.perf_counter() - began)
        results["allowed" if judged and judged.allowed else "denied"] += 1
        if differs:
            wrong.append({"src": src, "dst": dst, "port": port, "differs": differs})
    report = {
        "benchmark": "paths",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "hosts": hosts,
        "endpoints": endpoints,
        "acl_entries": topology.acl_entries,
        "entries_per_host": entries_per_host,
        "populate_seconds": round(populate, 1),
        "compile_seconds": round(compile_seconds, 2),
        "program_host_ms": summary_ms(programming),
        "flows": sum(results.values()),
        **results,
        "trace_and_judge_ms": summary_ms(timings),
        "disagreements": len(wrong),
        "first_disagreements": wrong[:5],
        "verified": not wrong and results["allowed"] > 0 and results["denied"] > 0,
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(report, indent=2) + "\n")
    return report
