"""``overcast`` as a client: browse and change the directory, see the hosts, explain policy.

Connection settings come from flags, then the environment (``OVERCAST_URL``, ``OVERCAST_USER``,
``OVERCAST_PASSWORD``, ``OVERCAST_ORG``, ``OVERCAST_CONTROLLER``), then a config file
(``$OVERCAST_CONFIG`` or ``~/.config/overcast/cli.toml``, keys ``url``, ``user``, ``password``,
``org``, ``controller``), then the embedded defaults. Errors print the server's own words (the
VSD error text, the controller's status) and exit 1; ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from ..client.controller import ControllerClient, ControllerClientError
from ..client.vsd import VsdClient, VsdClientError

out = Console()
err = Console(stderr=True)

Url = Annotated[str | None, typer.Option("--url", envvar="OVERCAST_URL", help="Directory API base URL.")]
User = Annotated[str | None, typer.Option("--user", envvar="OVERCAST_USER", help="User name.")]
Password = Annotated[str | None, typer.Option("--password", envvar="OVERCAST_PASSWORD", help="Password.")]
Org = Annotated[str | None, typer.Option("--org", envvar="OVERCAST_ORG", help="Organization.")]
Controller = Annotated[
    str | None, typer.Option("--controller", envvar="OVERCAST_CONTROLLER", help="Controller HOST:PORT.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Parent = Annotated[
    str | None, typer.Option("--parent", "-p", help="List or create under KIND/ID, e.g. zones/3f2a…")
]

#: What a table shows per kind (everything is in --json and `show`).
COLUMNS: dict[str, tuple[str, ...]] = {
    "enterprises": ("name", "description", "ID"),
    "domains": ("name", "templateID", "ID"),
    "zones": ("name", "ID"),
    "subnets": ("name", "address", "netmask", "gateway", "vnId", "ID"),
    "vports": ("name", "type", "operationalState", "ID"),
    "containers": ("name", "status", "hypervisorIP", "ID"),
    "policygroups": ("name", "type", "ID"),
    "vrss": ("name", "address", "status", "ID"),
    "ingressacltemplates": ("name", "active", "defaultAllowIP", "ID"),
    "egressacltemplates": ("name", "active", "defaultAllowIP", "ID"),
    "ingressaclentrytemplates": ("description", "priority", "action", "protocol", "destinationPort", "ID"),
    "egressaclentrytemplates": ("description", "priority", "action", "protocol", "destinationPort", "ID"),
}


@dataclass
class Settings:
    url: str
    user: str
    password: str
    org: str
    controller: str


def _config_file() -> dict[str, Any]:
    path = Path(os.environ.get("OVERCAST_CONFIG", Path.home() / ".config" / "overcast" / "cli.toml"))
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None


def settings(
    url: str | None = None,
    user: str | None = None,
    password: str | None = None,
    org: str | None = None,
    controller: str | None = None,
) -> Settings:
    """Flags and environment (already merged by typer) over the config file over defaults."""
    file = _config_file()
    return Settings(
        url=url or file.get("url", "http://127.0.0.1:8443"),
        user=user or file.get("user", "csproot"),
        password=password or file.get("password", "csproot"),
        org=org or file.get("org", "csp"),
        controller=controller or file.get("controller", "127.0.0.1:7406"),
    )


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the failures a user can cause into one clear line and exit status 1."""
    try:
        yield
    except VsdClientError as exc:
        err.print(f"[red]error:[/] {exc.describe()} [dim](HTTP {exc.status})[/]")
        raise typer.Exit(1) from None
    except httpx.TransportError as exc:
        try:
            where = str(exc.request.url)
        except RuntimeError:  # httpx raises when the error carries no request
            where = str(exc)
        err.print(f"[red]error:[/] cannot reach the directory: {where}")
        raise typer.Exit(1) from None
    except ControllerClientError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except LookupError as exc:
        err.print(f"[red]error:[/] {escape(str(exc.args[0]))}")
        raise typer.Exit(1) from None


def _session(s: Settings) -> VsdClient:
    client = VsdClient(s.url, s.user, s.password, s.org)
    client.login()
    return client


def resource(kind: str) -> str:
    """A kind as users type it (``subnet``, ``subnets``, ``VPort``) -> its REST resource name."""
    from ..directory.schema import REGISTRY

    name = kind.lower()
    if name in REGISTRY.by_resource:
        return name
    if name in REGISTRY.entities:
        return REGISTRY.entities[name].resource
    known = ", ".join(sorted(COLUMNS))
    raise typer.BadParameter(f"unknown kind {kind!r} (for example: {known})")


def _parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``name=web count=3 active=true tags=["a"]`` -> attributes (JSON values where they parse)."""
    body: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r}: expected ATTRIBUTE=VALUE")
        try:
            body[name] = json.loads(value)
        except json.JSONDecodeError:
            body[name] = value
    return body


def _collection(kind: str, parent: str | None) -> str:
    """``subnets`` or ``zones/ID/subnets``."""
    return resource(kind) if parent is None else f"{parent.strip('/')}/{resource(kind)}"


def _table(kind: str, items: list[dict[str, Any]], title: str | None = None) -> Table:
    columns = COLUMNS.get(kind) or ("name", "description", "ID")
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*("" if item.get(c) is None else str(item.get(c)) for c in columns))
    return table


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data))


# --- directory objects -----------------------------------------------------------------------------


def list_objects(
    kind: Annotated[str, typer.Argument(help="What to list: enterprises, domains, subnets, vports, …")],
    parent: Parent = None,
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help='VSD filter, e.g. name == "web"')
    ] = None,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """List objects of a kind, everywhere or under a parent.

    Examples: [bold]overcast list enterprises[/] · [bold]overcast list subnets --parent zones/ID[/] ·
    [bold]overcast list containers -f 'name == "acme-web1"' --json[/]
    """
    path = _collection(kind, parent)
    with _errors():
        items = _session(settings(url, user, password, org)).list_all(path, filter=filter)
    if as_json:
        _print_json(items)
    else:
        out.print(_table(resource(kind), items, title=f"{path} ({len(items)})"))


def show_object(
    kind: Annotated[str, typer.Argument(help="The object's kind, e.g. subnet.")],
    object_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Every attribute of one object. Example: [bold]overcast show subnet ID[/]"""
    with _errors():
        item = _session(settings(url, user, password, org)).get(f"{resource(kind)}/{object_id}")
    if as_json:
        _print_json(item)
        return
    table = Table(show_header=False, title=f"{resource(kind)}/{object_id}", title_justify="left")
    for name in sorted(item):
        value = item[name]
        table.add_row(name, json.dumps(value) if isinstance(value, (list, dict)) else str(value))
    out.print(table)


def create_object(
    kind: Annotated[str, typer.Argument(help="The kind to create, e.g. zone.")],
    attributes: Annotated[list[str], typer.Argument(help="ATTRIBUTE=VALUE pairs (JSON values allowed).")],
    parent: Parent = None,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Create an object (under a parent unless it lives at the root).

    Examples: [bold]overcast create enterprise name=acme[/] ·
    [bold]overcast create subnet --parent zones/ID name=web address=10.1.0.0 netmask=255.255.255.0[/]
    """
    path = _collection(kind, parent)
    with _errors():
        item = _session(settings(url, user, password, org)).create(path, _parse_assignments(attributes))
    if as_json:
        _print_json(item)
    else:
        out.print(_table(resource(kind), [item], title=f"created {resource(kind)}/{item['ID']}"))


def update_object(
    kind: Annotated[str, typer.Argument(help="The object's kind.")],
    object_id: Annotated[str, typer.Argument(metavar="ID")],
    attributes: Annotated[list[str], typer.Argument(help="ATTRIBUTE=VALUE pairs to change.")],
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Change attributes of an object. Example: [bold]overcast update zone ID description="front end"[/]"""
    path = f"{resource(kind)}/{object_id}"
    with _errors():
        client = _session(settings(url, user, password, org))
        client.update(path, _parse_assignments(attributes), confirm=True)
        item = client.get(path)
    if as_json:
        _print_json(item)
    else:
        out.print(_table(resource(kind), [item], title=f"updated {path}"))


def delete_object(
    kind: Annotated[str, typer.Argument(help="The object's kind.")],
    object_id: Annotated[str, typer.Argument(metavar="ID")],
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Delete an object (and, as VSD does, what it contains). Example: [bold]overcast delete vport ID[/]"""
    with _errors():
        _session(settings(url, user, password, org)).delete(f"{resource(kind)}/{object_id}", confirm=True)
    err.print(f"deleted {resource(kind)}/{object_id}")


# --- topology --------------------------------------------------------------------------------------


def topology_tree(client: VsdClient, enterprise: str | None = None) -> tuple[Tree, dict[str, Any]]:
    """enterprise → domain → zone → subnet → vport → container (host, state), as a rich tree and
    as nested JSON."""
    hosts = {v["ID"]: v["name"] for v in client.list_all("vrss")}
    running: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}  # vport -> (container, interface)
    for container in client.list_all("containers"):
        for interface in container.get("interfaces") or []:
            running.setdefault(interface.get("VPortID") or "", []).append((container, interface))
    root = Tree("[bold]overcast[/]")
    data: dict[str, Any] = {"enterprises": []}
    filter = f'name == "{enterprise}"' if enterprise else None
    for ent in client.list_all("enterprises", filter=filter):
        ent_node, ent_data = (
            root.add(f"[bold]{ent['name']}[/] [dim]enterprise[/]"),
            {"name": ent["name"], "domains": []},
        )
        data["enterprises"].append(ent_data)
        for dom in client.list_all(f"enterprises/{ent['ID']}/domains"):
            dom_node = ent_node.add(f"[bold cyan]{dom['name']}[/] [dim]domain[/]")
            fips = {f["ID"]: f.get("address") for f in client.list_all(f"domains/{dom['ID']}/floatingips")}
            dom_data: dict[str, Any] = {"name": dom["name"], "ID": dom["ID"], "zones": []}
            ent_data["domains"].append(dom_data)
            for zone in client.list_all(f"domains/{dom['ID']}/zones"):
                zone_node = dom_node.add(f"[cyan]{zone['name']}[/] [dim]zone[/]")
                zone_data: dict[str, Any] = {"name": zone["name"], "subnets": []}
                dom_data["zones"].append(zone_data)
                for subnet in client.list_all(f"zones/{zone['ID']}/subnets"):
                    prefix = f"{subnet.get('address')}/{subnet.get('netmask')}"
                    subnet_node = zone_node.add(
                        f"{subnet['name']} [dim]subnet {prefix} VNI {subnet.get('vnId')}[/]"
                    )
                    subnet_data: dict[str, Any] = {
                        "name": subnet["name"],
                        "address": subnet.get("address"),
                        "vports": [],
                    }
                    zone_data["subnets"].append(subnet_data)
                    for vport in client.list_all(f"subnets/{subnet['ID']}/vports"):
                        state = vport.get("operationalState") or "-"
                        fip = fips.get(vport.get("associatedFloatingIPID") or "")
                        label = f" [magenta]floating IP {fip}[/]" if fip else ""
                        vport_node = subnet_node.add(f"{vport['name']} [dim]vport {state}[/]{label}")
                        vport_data: dict[str, Any] = {
                            "name": vport["name"],
                            "ID": vport["ID"],
                            "state": state,
                            "floatingIP": fip,
                            "containers": [],
                        }
                        subnet_data["vports"].append(vport_data)
                        for container, interface in running.get(vport["ID"], []):
                            host = hosts.get(container.get("VRSID") or "", "-")
                            status = container.get("status") or "-"
                            colour = "green" if status == "RUNNING" else "yellow"
                            vport_node.add(
                                f"[{colour}]{container['name']}[/] {interface.get('IPAddress') or ''} "
                                f"[dim]on {host}, {status}[/]"
                            )
                            vport_data["containers"].append(
                                {
                                    "name": container["name"],
                                    "IP": interface.get("IPAddress"),
                                    "MAC": interface.get("MAC"),
                                    "host": host,
                                    "status": status,
                                }
                            )
    data["gateways"] = gateways_of(client)
    for gateway in data["gateways"]:
        root.add(describe_gateway(gateway))
    return root, data


def gateways_of(client: VsdClient, now_ms: int | None = None) -> list[dict[str, Any]]:
    """The gateways the directory records (the operator sees them; tenants see none): each
    one's BGP sessions, the peers whose session is not established, and whether it still
    reports (a gateway killed with -9 stops refreshing its record)."""
    from ..gateway.heartbeat import silent_for_ms

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    gateways = []
    for g in client.list_all("gateways"):
        sessions = [item.rsplit(" ", 1) for item in (g.get("peer") or "").split("; ") if " " in item]
        silent = silent_for_ms(g.get("lastUpdatedDate"), now_ms)
        gateways.append(
            {
                "name": g["name"],
                "routerID": g.get("systemID"),
                "connected": bool(g.get("gatewayConnected")) and silent is None,
                "reporting": silent is None,
                "silent_seconds": None if silent is None else silent // 1000,
                "sessions": g.get("peer") or "no session",
                "down": sorted(address for address, state in sessions if state != "established"),
            }
        )
    return gateways


def describe_gateway(gateway: dict[str, Any]) -> str:
    """One line for a gateway: rich markup, red when it carries no session or went silent."""
    colour = "green" if gateway["connected"] else "red"
    if not gateway["reporting"]:
        last = escape(gateway["sessions"])
        detail = f"[red]not reporting for {gateway['silent_seconds']} s[/] (last: {last})"
    elif gateway["down"]:
        detail = f"{escape(gateway['sessions'])} — [red]down: {', '.join(gateway['down'])}[/]"
    else:
        detail = escape(gateway["sessions"])
    return f"gateway [{colour}]{gateway['name']}[/] ({gateway['routerID']}): {detail}"


def topology(
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise.")] = None,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """The tree of what runs where: enterprise → domain → zone → subnet → vport → container.

    Example: [bold]overcast topology --enterprise acme[/]
    """
    with _errors():
        tree, data = topology_tree(_session(settings(url, user, password, org)), enterprise)
    if as_json:
        _print_json(data)
    else:
        out.print(tree)


# --- the control plane -------------------------------------------------------------------------------


def status(
    controller: Controller = None,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Hosts as the controller sees them: session, endpoints, sent vs. applied revision, and
    whether each has converged. Exits 1 when a connected host is behind.

    Example: [bold]overcast status --controller 127.0.0.1:7406[/]
    """
    s = settings(url, user, password, org, controller)
    with _errors(), ControllerClient(s.controller, credentials=(s.org, s.user, s.password)) as client:
        reply = client.status()
    hosts = [
        {
            "host": h.host_id,
            "connected": h.connected,
            "domains": h.domains,
            "endpoints": h.endpoints,
            "sent_revision": h.sent_revision,
            "applied_revision": h.applied_revision,
            "in_sync": h.in_sync,
            "refusals": h.refusals,
            "last_refusal": h.last_refusal,
        }
        for h in reply.hosts
    ]
    converged = all(h["in_sync"] for h in hosts if h["connected"])
    gateways: list[dict[str, Any]] | None = None
    try:
        gateways = gateways_of(_session(s))
    except Exception as exc:  # the directory is another service: say why, keep the hosts
        problem = str(exc)
    if as_json:
        _print_json(
            {
                "controller": reply.controller_id,
                "revision": reply.revision,
                "converged": converged,
                "hosts": hosts,
                "gateways": gateways if gateways is not None else {"error": problem},
            }
        )
    else:
        table = Table(
            title=f"controller {reply.controller_id} at directory revision {reply.revision}",
            title_justify="left",
        )
        for column in ("host", "session", "domains", "endpoints", "applied / sent", "state"):
            table.add_column(column)
        for h in hosts:
            state = (
                "[green]in sync[/]" if h["in_sync"] else ("[yellow]converging[/]" if h["connected"] else "-")
            )
            if h["refusals"]:
                state = f"[red]refusing updates ({h['refusals']} in a row): {escape(h['last_refusal'])}[/]"
            table.add_row(
                h["host"],
                "[green]up[/]" if h["connected"] else "[red]down[/]",
                str(h["domains"]),
                str(h["endpoints"]),
                f"{h['applied_revision']} / {h['sent_revision']}",
                state,
            )
        out.print(table)
        out.print("[green]converged[/]" if converged else "[yellow]not converged yet[/]")
        if gateways is None:
            out.print(f"[dim]gateways: the directory did not answer ({problem})[/]")
            return
        for gateway in gateways:
            out.print(describe_gateway(gateway))
    if not converged:
        raise typer.Exit(1)


policy_app = typer.Typer(help="Questions about policy.", no_args_is_help=True)

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}


def parse_service(service: str) -> tuple[int, int, int]:
    """``tcp/80``, ``udp/53``, ``icmp``, ``icmp/8`` -> (protocol, port, ICMP type or -1)."""
    name, _, number = service.lower().partition("/")
    if name not in PROTOCOLS:
        raise typer.BadParameter(f"{service!r}: expected tcp/PORT, udp/PORT or icmp[/TYPE]")
    try:
        value = int(number) if number else None
    except ValueError:
        raise typer.BadParameter(f"{service!r}: {number!r} is not a number") from None
    if name == "icmp":
        return 1, 0, 8 if value is None else value
    if value is None or not 0 < value < 65536:
        raise typer.BadParameter(f"{service!r}: a {name} port between 1 and 65535 is needed")
    return PROTOCOLS[name], value, -1


def resolve_endpoint(client: VsdClient, name: str, enterprise: str | None) -> dict[str, Any]:
    """A container name, a vport ID or an IP -> the container interface it names (one only)."""
    matches: list[dict[str, Any]] = []
    for container in client.list_all("containers"):
        if enterprise and container.get("enterpriseName") != enterprise:
            continue
        for interface in container.get("interfaces") or []:
            if name in (container.get("name"), interface.get("VPortID"), interface.get("IPAddress")):
                matches.append(
                    {
                        **interface,
                        "container": container["name"],
                        "enterprise": container.get("enterpriseName"),
                    }
                )
    if not matches:
        if _is_ipv4(name):  # no endpoint has it: an address outside the overlay
            return {"container": f"outside {name}", "IPAddress": name, "VPortID": "", "outside": name}
        raise LookupError(f"no container, vport or IP {name!r}" + (f" in {enterprise}" if enterprise else ""))
    if len(matches) > 1:
        where = ", ".join(f"{m['container']} ({m['enterprise']})" for m in matches)
        raise LookupError(f"{name!r} is ambiguous: {where}; name the container or add --enterprise")
    return matches[0]


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _entry(client: VsdClient, judgement: Any, direction: str) -> str:
    if judgement.decided_by in ("default", "") or " " in judgement.decided_by:
        return f"{direction} {judgement.decided_by or 'default'}"
    try:
        entry = client.get(f"{direction}aclentrytemplates/{judgement.decided_by}")
    except VsdClientError:
        return f"{direction} entry {judgement.decided_by}"
    label = entry.get("description") or judgement.decided_by
    return f"{direction} entry “{label}” (priority {entry.get('priority')}, {entry.get('action')})"


@policy_app.command("explain")
def explain(
    source: Annotated[
        str, typer.Argument(help="Container name, vport ID or IP of the source (or an outside address).")
    ],
    destination: Annotated[
        str, typer.Argument(help="Container name, vport ID or IP of the destination (or an outside address).")
    ],
    service: Annotated[str, typer.Argument(help="tcp/PORT, udp/PORT or icmp\\[/TYPE].")] = "tcp/80",
    enterprise: Annotated[str | None, typer.Option(help="Where names and IPs are looked up.")] = None,
    as_json: AsJson = False,
    controller: Controller = None,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Would a new flow pass, and which ACL entry (or default) decides — at the source's host
    (ingress) and at the destination's (egress)? Asks the controller's reachability oracle.
    Either side may be an address outside the overlay (north-south: the endpoint's side then
    decides, once it has a floating IP, PAT or an advertised subnet for that direction).

    Example: [bold]overcast policy explain acme-web1 acme-app1 tcp/8080[/]
    """
    protocol, port, icmp_type = parse_service(service)
    s = settings(url, user, password, org, controller)
    with _errors():
        client = _session(s)
        src, dst = (
            resolve_endpoint(client, source, enterprise),
            resolve_endpoint(client, destination, enterprise),
        )
        if src.get("outside") and dst.get("outside"):
            raise LookupError(
                "neither side is an endpoint: at least one must be a container, vport or its IP"
            )
        with ControllerClient(s.controller, credentials=(s.org, s.user, s.password)) as control:
            reply = control.explain(src["VPortID"], dst["VPortID"], protocol, port, icmp_type,
                                    source_address=src.get("outside", ""),
                                    destination_address=dst.get("outside", ""))  # fmt: skip
        ingress, egress = _entry(client, reply.ingress, "ingress"), _entry(client, reply.egress, "egress")
    if as_json:
        _print_json(
            {
                "allowed": reply.allowed,
                "reason": reply.reason,
                "source": src["container"],
                "destination": dst["container"],
                "service": service,
                "ingress": {
                    "allowed": reply.ingress.allowed,
                    "decided_by": reply.ingress.decided_by,
                    "host": reply.ingress.host_id,
                    "entry": ingress,
                },
                "egress": {
                    "allowed": reply.egress.allowed,
                    "decided_by": reply.egress.decided_by,
                    "host": reply.egress.host_id,
                    "entry": egress,
                },
            }
        )
        return
    verdict = "[bold green]ALLOWED[/]" if reply.allowed else "[bold red]DENIED[/]"
    out.print(
        f"{src['container']} ({src.get('IPAddress')}) → {dst['container']} ({dst.get('IPAddress')}) "
        f"{service}: {verdict} — {reply.reason}"
    )
    for judgement, text in ((reply.ingress, ingress), (reply.egress, egress)):
        mark = "[green]allow[/]" if judgement.allowed else "[red]deny[/]"
        out.print(f"  {mark}  {text}" + (f" [dim]on {judgement.host_id}[/]" if judgement.host_id else ""))


def register(app: typer.Typer) -> None:
    app.command("list")(list_objects)
    app.command("show")(show_object)
    app.command("create")(create_object)
    app.command("update")(update_object)
    app.command("delete")(delete_object)
    app.command("topology")(topology)
    app.command("status")(status)
    from .flows import flows

    app.command("flows")(flows)
    from . import compliance, verify  # noqa: F401 (add policy check, policy verify)
    from .appd import app_app

    app.add_typer(policy_app, name="policy")

    app.add_typer(app_app, name="app")
