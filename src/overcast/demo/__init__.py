"""``overcast demo``: the whole system on one machine, an application on it, and proof.

Embedded mode: the directory (SQLite), the controller and three simulated hosts — network
namespaces on an underlay bridge, each with its own agent on the Linux dataplane — all real
processes. Through the public REST API, as any client would, it deploys the WordPress site of
:mod:`.application` (and a second tenant on the same addresses), starts real TCP listeners in the
containers, probes every relevant pair with real connections and prints the matrix: expected (the
application's intent) against observed. Any mismatch makes it exit non-zero.

Everything it creates carries the tag ``ovdemo`` (namespaces, host IDs) or is recorded in
``<state-dir>/demo.json`` (processes), so ``overcast demo --down`` removes exactly that — also
after a crash, and a new ``overcast demo`` first removes what an earlier one left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ..agent.client import AgentClient, agent_connected
from ..agent.credentials import RuntimeCredentials
from ..appd.apply import apply_document
from ..appd.document import Document, Service
from ..appd.document import Flow as DesignedFlow
from ..appd.document import Tier as DesignedTier
from ..client.controller import ControllerClient
from ..client.verify import run_verify
from ..client.vsd import VsdClient, VsdClientError
from ..lab import Lab, sh
from ..lab.frr import Frr
from .application import HOSTS, TENANTS, Container, Tenant

TAG = "ovdemo"
UNDERLAY = "10.250.0.{}"
#: The data-center router (FRR, its AS) and the gateway (its AS) on the underlay.
ROUTER, ROUTER_AS = UNDERLAY.format(254), 65000
GATEWAY, GATEWAY_AS = UNDERLAY.format(253), 65100
#: The floating-IP pool (a documentation range), and the outside network's HTTP server.
PUBLIC_POOL = ("203.0.113.0", "255.255.255.0", "203.0.113.1")
OUTSIDE_PORT = 80


class DemoError(Exception):
    pass


@dataclass
class DemoOptions:
    state_dir: Path = Path(".overcast-demo")
    listen: str = "127.0.0.1:8443"  # the directory API
    controller: str = "127.0.0.1:7406"
    keep: bool = False
    password: str = "csproot"


@dataclass
class Deployed:
    """One container as deployed: where it runs and what the directory gave it."""

    enterprise: str
    name: str
    tier: str
    host: str
    vport: str
    ip: str
    netns: str
    floating_ip: str = ""


@dataclass
class Record:
    """What the demo started, on disk from the moment it exists (for ``--down``)."""

    path: Path
    pids: list[int] = field(default_factory=list)
    url: str = ""
    controller: str = ""
    containers: list[dict[str, str]] = field(default_factory=list)
    frr_dir: str = ""  # the router's FRR configuration, sockets and logs

    def save(self) -> None:
        data = {
            "pids": self.pids,
            "url": self.url,
            "controller": self.controller,
            "containers": self.containers,
            "frr_dir": self.frr_dir,
        }
        self.path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Record:
        data = json.loads(path.read_text()) if path.exists() else {}
        return cls(
            path,
            data.get("pids", []),
            data.get("url", ""),
            data.get("controller", ""),
            data.get("containers", []),
            data.get("frr_dir", ""),
        )


# --- up ------------------------------------------------------------------------------------------


def run_demo(options: DemoOptions, console: Console) -> bool:
    """Bring everything up, deploy, probe, print. Returns whether every probe matched; leaves it
    all running with ``keep``, else removes it before returning."""
    _require_root()
    state_dir = options.state_dir.resolve()
    if (state_dir / "demo.json").exists() or _leftover_namespaces():
        console.print("[dim]removing what an earlier demo left…[/]")
        tear_down(state_dir, console, quiet=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    record = Record(state_dir / "demo.json")
    record.save()
    began = time.monotonic()
    lab = Lab(tag=TAG)
    kept = False
    try:
        with _step(console, "three simulated hosts on an underlay bridge"):
            hosts = {short: lab.host(short, UNDERLAY.format(i)) for i, short in enumerate(HOSTS, 1)}
        with _step(console, f"a data-center router (FRR, AS {ROUTER_AS}) with the outside behind it"):
            router, outside_ns, outside_ip = lab.outside(router=ROUTER)
            gateway_ns = lab.host("gw", GATEWAY)
            # FRR's directory where its unprivileged daemons can reach it (not under a private one).
            frr = Frr(router, ROUTER_AS, ROUTER)
            record.frr_dir = str(frr.dir)
            record.save()
            frr.start({GATEWAY: GATEWAY_AS})
            record.pids += frr.pids()
            record.save()
        url = f"http://{options.listen}"
        env = {"OVERCAST_CSPROOT_PASSWORD": options.password}
        with _step(console, f"directory on {url} (SQLite in {state_dir / 'directory'})"):
            _start(
                record,
                ["directory", "--listen", options.listen, "--state-dir", str(state_dir / "directory")],
                state_dir / "directory.log",
                env,
            )
            record.url = url
            client = VsdClient(url, password=options.password)
            _wait(lambda: bool(client.login()), "the directory to answer", state_dir / "directory.log")
        database = f"sqlite:///{state_dir / 'directory' / 'directory.db'}"
        with _step(console, f"controller on {options.controller}"):
            _start(
                record,
                ["controller", "--database", database, "--listen", options.controller, "--insecure"],
                state_dir / "controller.log",
            )
            record.controller = options.controller
        with _step(console, "an agent per host, Linux dataplane"):
            # The agents' runtime calls act as csproot: the demo's hosts serve both tenants.
            operator = RuntimeCredentials("csp", "csproot", options.password)
            credentials = operator.write(state_dir / "agent-credentials.toml")
            for i, short in enumerate(HOSTS, 1):
                _start(
                    record,
                    [
                        "agent",
                        "--insecure",
                        "--credentials",
                        str(credentials),
                        "--controller",
                        options.controller,
                        "--host-id",
                        f"{TAG}-{short}",
                        "--underlay-ip",
                        UNDERLAY.format(i),
                        "--dataplane",
                        "linux",
                        "--host-netns",
                        hosts[short],
                        "--socket",
                        str(state_dir / f"{short}.sock"),
                    ],
                    state_dir / f"agent-{short}.log",
                )
            for short in HOSTS:
                socket = state_dir / f"{short}.sock"
                _wait(partial(agent_connected, socket), f"agent {short}", state_dir / f"agent-{short}.log")
        with _step(console, f"a gateway (AS {GATEWAY_AS}) speaking BGP to the router"):
            _start(
                record,
                [
                    "gateway",
                    "--database",
                    database,
                    "--asn",
                    str(GATEWAY_AS),
                    "--router-id",
                    GATEWAY,
                    "--peer",
                    f"{ROUTER}:{ROUTER_AS}",
                    "--bgp-netns",
                    gateway_ns,
                    "--state-dir",
                    str(state_dir / "gateway"),
                ],
                state_dir / "gateway.log",
            )
            _wait(
                lambda: frr.session_states().get(GATEWAY) == "Established",
                "the BGP session",
                state_dir / "gateway.log",
            )
        deployed: list[Deployed] = []
        pool: dict[str, Any] | None = None
        for tenant in TENANTS:
            how = (
                "the application designed (tiers, flows), deployed as a zone, subnets and ACL entries"
                if tenant.designed
                else "domain from a template, zones, subnets, policy"
            )
            with _step(console, f"{tenant.enterprise}: {how}"):
                domain_id, topology = (deploy_designed if tenant.designed else deploy_tenant)(client, tenant)
            with _step(
                console, f"{tenant.enterprise}: {len(tenant.containers)} containers attached by their agents"
            ):
                attached = attach_containers(client, tenant, topology, lab, state_dir)
            if tenant.floating:
                with _step(console, f"{tenant.enterprise}: floating IPs for {', '.join(tenant.floating)}"):
                    pool = pool or client.create(
                        "sharednetworkresources",
                        {
                            "name": "public",
                            "type": "FLOATING",
                            "address": PUBLIC_POOL[0],
                            "netmask": PUBLIC_POOL[1],
                            "gateway": PUBLIC_POOL[2],
                        },
                    )
                    attached = assign_floating_ips(client, tenant, domain_id, pool["ID"], attached)
            deployed += attached
            record.containers = [asdict(d) for d in deployed]
            record.save()
        with _step(console, f"acme: compliance policy '{COMPLIANCE_NAME}' enforced"):
            refusal = enforce_compliance(client)
        console.print(f"  [dim]a change adding a flow web → db was refused:[/] {refusal}")
        with _step(console, "real TCP listeners on every service port, and an HTTP server outside"):
            for item in deployed:
                port = _tenant(item.enterprise).tier(item.tier).port
                if port is not None:
                    record.pids.append(lab.listen(item.netns, "tcp", port, detached=True))
            record.pids.append(lab.listen(outside_ns, "tcp", OUTSIDE_PORT, detached=True))
            record.save()
        with _step(console, "the router learns every floating IP from the gateway"):
            wanted = {f"{d.floating_ip}/32" for d in deployed if d.floating_ip}
            _wait(
                lambda: wanted <= set(frr.fib()), "the floating IPs' routes in FRR", state_dir / "gateway.log"
            )
        console.print(f"[bold]up in {time.monotonic() - began:.1f} s[/] — probing with real connections…")
        results = probe(lab, deployed) + probe_outside(lab, deployed, outside_ns, outside_ip)
        ok = show_matrix(console, results, deployed)
        with _step(console, "policy verify: the model's explanations proven against packets and counters"):
            report = verify_policy(options, state_dir)
        console.print(
            f"  {report['samples']} sampled flows: {report['agreed']} agree with the model, "
            f"{report['disagreements']} disagree, {report['skipped']} skipped"
        )
        ok = ok and report["disagreements"] == 0
        if options.keep:
            show_next_steps(console, options, state_dir)
            kept = True
        return ok
    finally:
        if not kept:
            lab.listeners.clear()  # their processes are in the record
            tear_down(state_dir, console, quiet=True)


def deploy_tenant(client: VsdClient, tenant: Tenant) -> tuple[str, dict[str, dict[str, str]]]:
    """Enterprise, a domain template holding the zones, subnets, policy groups and ACLs, and a
    domain instantiated from it (PAT when the tenant wants it). Returns the domain's ID and
    tier -> {subnet, policy group} IDs of the domain."""
    enterprise = client.create("enterprises", {"name": tenant.enterprise})
    template = client.create(f"enterprises/{enterprise['ID']}/domaintemplates", {"name": "wordpress"})
    groups: dict[str, str] = {}
    for tier in tenant.tiers:
        zone = client.create(f"domaintemplates/{template['ID']}/zonetemplates", {"name": tier.name})
        client.create(
            f"zonetemplates/{zone['ID']}/subnettemplates",
            {"name": tier.name, "address": tier.address, "netmask": "255.255.255.0"},
        )
        group = client.create(f"domaintemplates/{template['ID']}/policygrouptemplates", {"name": tier.name})
        groups[tier.name] = group["ID"]
    for direction in ("ingress", "egress"):
        acl = client.create(
            f"domaintemplates/{template['ID']}/{direction}acltemplates",
            {
                "name": f"wordpress-{direction}",
                "active": True,
                "defaultAllowIP": False,
                "defaultAllowNonIP": False,
            },
        )
        for priority, flow in enumerate(tenant.flows, 1):
            # Ingress is judged at the source (local side = source), egress at the destination.
            local, remote = (
                (flow.source, flow.destination) if direction == "ingress" else (flow.destination, flow.source)
            )
            client.create(
                f"{direction}acltemplates/{acl['ID']}/{direction}aclentrytemplates",
                {
                    "description": f"{flow.source} -> {flow.destination} tcp/{flow.port}",
                    "action": "FORWARD",
                    "etherType": "0x0800",
                    "DSCP": "*",
                    "protocol": "6",
                    "destinationPort": str(flow.port),
                    "stateful": True,
                    "priority": priority * 10,
                    "locationType": "POLICYGROUP",
                    "locationID": groups[local],
                    "networkType": "POLICYGROUP",
                    "networkID": groups[remote],
                },
            )
        for priority, outside in enumerate(tenant.outside, len(tenant.flows) + 1):
            # Ingress judges what a tier sends out, egress what it receives from outside.
            if outside.inbound != (direction == "egress"):
                continue
            way = "from" if outside.inbound else "to"
            client.create(
                f"{direction}acltemplates/{acl['ID']}/{direction}aclentrytemplates",
                {
                    "description": f"{outside.tier} {way} anywhere tcp/{outside.port}",
                    "action": "FORWARD",
                    "etherType": "0x0800",
                    "DSCP": "*",
                    "protocol": "6",
                    "destinationPort": str(outside.port),
                    "stateful": True,
                    "priority": priority * 10,
                    "locationType": "POLICYGROUP",
                    "locationID": groups[outside.tier],
                    "networkType": "ANY",
                },
            )
    body = {"name": "wordpress", "templateID": template["ID"]}
    if tenant.pat:
        body["PATEnabled"] = "ENABLED"
    domain = client.create(f"enterprises/{enterprise['ID']}/domains", body)
    subnets = {s["name"]: s["ID"] for s in client.list_all(f"domains/{domain['ID']}/subnets")}
    policy_groups = {g["name"]: g["ID"] for g in client.list_all(f"domains/{domain['ID']}/policygroups")}
    tiers = {t.name: {"subnet": subnets[t.name], "policygroup": policy_groups[t.name]} for t in tenant.tiers}
    return domain["ID"], tiers


def application_document(tenant: Tenant) -> Document:
    """The tenant as the application designer's document (what ``overcast app apply`` takes):
    a tier per tier, the outside as a network macro tier, a flow per allowed connection."""
    ports = sorted({f.port for f in tenant.flows} | {o.port for o in tenant.outside})
    tiers = [DesignedTier(t.name, "STANDARD", t.address, "255.255.255.0") for t in tenant.tiers]
    flows = [
        DesignedFlow(f"{f.source}-to-{f.destination}", f.source, f.destination, (f"tcp-{f.port}",))
        for f in tenant.flows
    ]
    if tenant.outside:
        tiers.append(DesignedTier("internet", "NETWORK_MACRO", "0.0.0.0", "0.0.0.0"))
        for o in tenant.outside:
            origin, destination = ("internet", o.tier) if o.inbound else (o.tier, "internet")
            flows.append(DesignedFlow(f"{origin}-to-{destination}", origin, destination, (f"tcp-{o.port}",)))
    return Document(
        enterprise=tenant.enterprise,
        domain="wordpress",
        application="wordpress",
        services=tuple(Service(f"tcp-{port}", "6", str(port)) for port in ports),
        tiers=tuple(tiers),
        flows=tuple(flows),
    )


COMPLIANCE_NAME = "PCI cardholder data"
COMPLIANCE_TEXT = """\
# The database holds cardholder data: only the PHP tier reaches it, on MySQL only.
nothing outside tier:wordpress/db may reach tier:wordpress/db except tier:wordpress/app on tcp/3306
no flow from tier:wordpress/web to tier:wordpress/db
tier:wordpress/app must reach tier:wordpress/db on tcp/3306
"""


def enforce_compliance(client: VsdClient) -> str:
    """acme's PCI policy, enforced; then the change a developer might try — a flow from the web
    tier straight to the database — which the directory refuses. Returns the refusal; raises
    if the policy is violated or the change goes through (the demo would be wrong)."""
    ent = client.list_all("enterprises", filter='name == "acme"')[0]
    policy = client.create(
        f"enterprises/{ent['ID']}/compliancepolicies",
        {"name": COMPLIANCE_NAME, "mode": "ENFORCE", "text": COMPLIANCE_TEXT},
    )
    if policy.get("violationCount"):
        raise RuntimeError(
            f"the WordPress site violates its own policy: {policy['violationCount']} violation(s)"
        )
    app = client.list_all(f"enterprises/{ent['ID']}/appdapplications")[0]
    tiers = {t["name"]: t["ID"] for t in client.list_all(f"appdapplications/{app['ID']}/appdtiers")}
    mysql = next(
        s for s in client.list_all(f"enterprises/{ent['ID']}/appdservices") if s["name"] == "tcp-3306"
    )
    try:
        client.create(
            f"appdapplications/{app['ID']}/appdflows",
            {
                "name": "web-to-db",
                "originTierID": tiers["web"],
                "destinationTierID": tiers["db"],
                "applicationServiceIDs": [mysql["ID"]],
            },
        )
    except VsdClientError as exc:
        return exc.describe()
    raise RuntimeError("a flow web → db went through an enforced compliance policy")


def deploy_designed(client: VsdClient, tenant: Tenant) -> tuple[str, dict[str, dict[str, str]]]:
    """Enterprise, an empty domain (PAT when the tenant wants it), and the application designed
    into it — the same code path as ``overcast app apply``. Returns the domain's ID and tier ->
    {subnet} IDs of what the directory deployed."""
    enterprise = client.create("enterprises", {"name": tenant.enterprise})
    template = client.create(f"enterprises/{enterprise['ID']}/domaintemplates", {"name": "empty"})
    body = {"name": "wordpress", "templateID": template["ID"]}
    if tenant.pat:
        body["PATEnabled"] = "ENABLED"
    domain = client.create(f"enterprises/{enterprise['ID']}/domains", body)
    applied = apply_document(client, application_document(tenant))
    tiers = client.list_all(f"appdapplications/{applied.application_id}/appdtiers")
    subnets = {t["name"]: t["associatedObjectID"] for t in tiers if t["associatedObjectType"] == "subnet"}
    return domain["ID"], {t.name: {"subnet": subnets[t.name]} for t in tenant.tiers}


def assign_floating_ips(
    client: VsdClient, tenant: Tenant, domain_id: str, pool_id: str, deployed: list[Deployed]
) -> list[Deployed]:
    """A floating IP allocated in the domain for each of the tenant's ``floating`` containers and
    assigned to its vport (the gateway announces it; the container's host translates it)."""
    out = []
    for item in deployed:
        if item.name in tenant.floating:
            fip = client.create(
                f"domains/{domain_id}/floatingips", {"associatedSharedNetworkResourceID": pool_id}
            )
            client.update(f"vports/{item.vport}", {"associatedFloatingIPID": fip["ID"]})
            item = replace(item, floating_ip=fip["address"])
        out.append(item)
    return out


def attach_containers(
    client: VsdClient, tenant: Tenant, topology: dict[str, dict[str, str]], lab: Lab, state_dir: Path
) -> list[Deployed]:
    """What an orchestrator does per container: a vport and a container in the directory (the
    directory allocates the address), the policy group, then the agent on its host plumbs it."""
    deployed = []
    members: dict[str, list[str]] = {}
    for index, container in enumerate(tenant.containers):
        tier = topology[container.tier]
        vport = client.create(
            f"subnets/{tier['subnet']}/vports",
            {"name": f"{container.name}-vport", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
        )
        mac = f"02:0c:{TENANTS.index(tenant):02x}:00:00:{index + 1:02x}"
        client.create(
            "containers",
            {
                "name": f"{tenant.enterprise}-{container.name}",
                "UUID": str(uuid.uuid4()),
                "interfaces": [{"MAC": mac, "VPortID": vport["ID"]}],
            },
        )
        if "policygroup" in tier:  # designed tiers are their subnets
            members.setdefault(tier["policygroup"], []).append(vport["ID"])
            client.assign(f"policygroups/{tier['policygroup']}/vports", members[tier["policygroup"]])
        netns = lab.container(f"{tenant.enterprise}-{container.name}")
        with AgentClient(state_dir / f"{container.host}.sock") as agent:
            endpoint = agent.attach(vport["ID"], mac, netns)
        deployed.append(
            Deployed(
                tenant.enterprise,
                container.name,
                container.tier,
                container.host,
                vport["ID"],
                endpoint["ip"],
                netns,
            )
        )
    return deployed


# --- probing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    source: Deployed
    destination: Deployed
    port: int
    expected: bool
    observed: bool
    why: str


def _tenant(enterprise: str) -> Tenant:
    return next(t for t in TENANTS if t.enterprise == enterprise)


def _container(item: Deployed) -> Container:
    return next(c for c in _tenant(item.enterprise).containers if c.name == item.name)


def probe(lab: Lab, deployed: list[Deployed]) -> list[Probe]:
    """Every pair within a tenant towards a service port, and every cross-tenant pair whose
    target address does not exist in the source's own domain (so reaching it would be a leak)."""
    results = []
    for source in deployed:
        own = {d.ip for d in deployed if d.enterprise == source.enterprise}
        for destination in deployed:
            port = _tenant(destination.enterprise).tier(destination.tier).port
            if destination is source or port is None:
                continue
            if destination.enterprise == source.enterprise:
                expected = _tenant(source.enterprise).allows(
                    _container(source), _container(destination), port
                )
                why = "allowed flow" if expected else "no rule allows it"
            elif destination.ip not in own:
                expected, why = False, "another tenant"
            else:
                continue
            observed = lab.connects(source.netns, "tcp", destination.ip, port, timeout=1.0)
            results.append(Probe(source, destination, port, expected, observed, why))
    return results


def probe_outside(lab: Lab, deployed: list[Deployed], outside_ns: str, outside_ip: str) -> list[Probe]:
    """North-south, from a client outside the overlay: to every floating IP on its tier's
    service port, and from every container to an HTTP server outside."""
    outside = Deployed("outside", "client", "-", "-", "", outside_ip, outside_ns)
    results = []
    for item in deployed:
        tenant, container = _tenant(item.enterprise), _container(item)
        port = tenant.tier(item.tier).port
        if item.floating_ip and port is not None:
            expected = tenant.allows_outside(container, port, inbound=True)
            target = replace(item, ip=item.floating_ip)
            observed = lab.connects(outside_ns, "tcp", item.floating_ip, port, timeout=1.0)
            why = "floating IP, a rule lets the outside in" if expected else "no rule lets the outside in"
            results.append(Probe(outside, target, port, expected, observed, why))
        expected = tenant.allows_outside(container, OUTSIDE_PORT, inbound=False)
        observed = lab.connects(item.netns, "tcp", outside_ip, OUTSIDE_PORT, timeout=1.0)
        way = "as its floating IP" if item.floating_ip else "through PAT"
        why = f"out {way}" if expected else "no rule (or no way) out"
        results.append(Probe(item, outside, OUTSIDE_PORT, expected, observed, why))
    return results


def verify_policy(options: DemoOptions, state_dir: Path, samples: int = 30) -> dict[str, Any]:
    """``overcast policy verify`` over every host's agent (their sockets are here)."""
    agents = {f"{TAG}-{short}": AgentClient(state_dir / f"{short}.sock") for short in HOSTS}
    try:
        credentials = ("csp", "csproot", options.password)
        with ControllerClient(options.controller, credentials=credentials) as control:
            return run_verify(agents, control, samples, seed=1, timeout=0.5)
    finally:
        for agent in agents.values():
            agent.close()


def show_matrix(console: Console, results: list[Probe], deployed: list[Deployed]) -> bool:
    placement = Table(title="containers", title_justify="left")
    for column in ("enterprise", "container", "tier", "host", "IP", "floating IP"):
        placement.add_column(column)
    for item in deployed:
        placement.add_row(item.enterprise, item.name, item.tier, item.host, item.ip, item.floating_ip or "-")
    console.print(placement)
    table = Table(title="policy, probed with real TCP connections", title_justify="left")
    for column in ("from", "to", "port", "expected", "observed", ""):
        table.add_column(column)
    mismatches = 0
    for r in results:
        same = r.expected == r.observed
        mismatches += not same
        table.add_row(
            f"{r.source.enterprise}/{r.source.name}",
            f"{r.destination.enterprise}/{r.destination.name} ({r.destination.ip})",
            f"tcp/{r.port}",
            _verdict(r.expected),
            _verdict(r.observed),
            "[green]✓[/]" if same else f"[bold red]✗ MISMATCH[/] ({r.why})",
        )
    console.print(table)
    allowed = sum(r.observed for r in results)
    if mismatches:
        console.print(f"[bold red]{mismatches} of {len(results)} probes disagree with the policy[/]")
    else:
        console.print(
            f"[bold green]all {len(results)} probes match the policy[/] "
            f"({allowed} allowed, {len(results) - allowed} denied)"
        )
    return mismatches == 0


def _verdict(allowed: bool) -> str:
    return "[green]allow[/]" if allowed else "[red]deny[/]"


def show_next_steps(console: Console, options: DemoOptions, state_dir: Path) -> None:
    url = f"http://{options.listen}"
    table = Table(show_header=False, box=None)
    table.add_row("API", f"{url}/nuage/api/v6   (OpenAPI: {url}/docs)")
    table.add_row("login", f"organization csp, user csproot, password {options.password}")
    table.add_row("controller", options.controller)
    table.add_row("logs and state", str(state_dir))
    console.print(Panel(table, title="[bold green]Overcast demo is running", expand=False))
    env = f"export OVERCAST_URL={url} OVERCAST_USER=csproot OVERCAST_PASSWORD={options.password}"
    console.print(
        "Try:\n"
        f"  {env}\n"
        "  overcast topology\n"
        "  overcast list enterprises\n"
        f"  overcast status --controller {options.controller}\n"
        f"  overcast policy explain acme-web1 acme-app1 tcp/8080 --controller {options.controller}\n"
        f"  overcast policy explain 198.51.100.10 acme-web1 tcp/80 --controller {options.controller}\n"
        f"  vtysh --vty_socket {Record.load(state_dir / 'demo.json').frr_dir}/run -c 'show ip bgp'\n"
        f"  ip netns list | grep {TAG}\n"
        f"  overcast demo --down --state-dir {options.state_dir}"
    )


# --- down ----------------------------------------------------------------------------------------


def tear_down(state_dir: Path, console: Console, *, quiet: bool = False) -> None:
    """Stop the demo's processes, delete its namespaces and its state; nothing else."""
    _require_root()
    state_dir = state_dir.resolve()
    record = Record.load(state_dir / "demo.json")
    stopped = 0
    # The recorded processes, then the daemons that name their directories under the state
    # directory (the gateway's gobgpd, FRR's): agents before the controller before the directory.
    marks = tuple(f"{d}/".encode() for d in (state_dir / "gateway", record.frr_dir) if d)
    others = [p for p in _pids_naming(marks) if p not in record.pids]
    for pid in [*reversed(record.pids), *others]:
        if _ours(pid, marks):
            try:
                os.killpg(pid, signal.SIGTERM)
                stopped += 1
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for pid in [*record.pids, *others]:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid) and _ours(pid, marks):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if record.frr_dir:
        shutil.rmtree(record.frr_dir, ignore_errors=True)
    namespaces = _leftover_namespaces()
    for name in sorted(namespaces, key=len, reverse=True):
        sh("ip", "netns", "del", name, check=False)
    if state_dir.exists() and (state_dir / "demo.json").exists():
        shutil.rmtree(state_dir)
    if not quiet:
        console.print(f"removed the demo: {stopped} processes stopped, {len(namespaces)} namespaces deleted")


def _leftover_namespaces() -> list[str]:
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return []
    return [n for n in names if n.startswith(f"{TAG}-") or n.startswith(f"ovc-{TAG}")]


def _ours(pid: int, marks: tuple[bytes, ...] = ()) -> bool:
    """A recorded PID is only signalled while it is still one of the demo's processes (an
    overcast service, a probe, or a daemon naming one of the demo's directories)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(
        b"overcast" in part or b"probe.py" in part or any(m in part for m in marks) for part in command
    )


def _pids_naming(marks: tuple[bytes, ...]) -> list[int]:
    """Processes whose command line names one of ``marks`` (daemons' directories of the demo)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if any(m in command for m in marks):
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


# --- helpers -------------------------------------------------------------------------------------


def _require_root() -> None:
    if os.geteuid() != 0:
        raise DemoError("the demo creates network namespaces: run it as root (sudo make demo)")
    for tool in ("ip", "nft", "conntrack"):
        if shutil.which(tool) is None:
            raise DemoError(f"{tool} is missing: make demo installs it (apt)")


def _start(record: Record, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """A service in its own session (it outlives the demo with --keep), its PID recorded first."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "overcast", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    record.pids.append(process.pid)
    record.save()


def _wait(ready: Callable[[], bool], what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception:  # not up yet: connection refused, socket missing, ...
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise DemoError(f"timed out waiting for {what}; the end of {log}:\n{tail}")


@contextmanager
def _step(console: Console, what: str) -> Iterator[None]:
    began = time.monotonic()
    with console.status(what + "…"):
        yield
    console.print(f"[green]✓[/] {what} [dim]({time.monotonic() - began:.1f} s)[/]")


def describe(record_path: Path) -> dict[str, Any]:
    """The running demo's record (for the CLI and tests)."""
    return json.loads(record_path.read_text())
