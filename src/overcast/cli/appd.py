"""``overcast app``: the application designer from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

from ..client.vsd import VsdClient
from .client import AsJson, Org, Password, Url, User, _errors, _print_json, _session, err, out, settings

app_app = typer.Typer(
    help="The application designer: tiers, services and the flows between them, deployed as "
    "zones, subnets and ACL entries.",
    no_args_is_help=True,
)

Enterprise = Annotated[str, typer.Option("--enterprise", "-e", help="The application's enterprise.")]


@app_app.command("apply")
def apply(
    file: Annotated[
        Path, typer.Argument(help="The application as YAML (see docs/operations.md).", exists=True)
    ],
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Create or change an application to match FILE, and deploy it (applying it again
    changes nothing). Alias: [bold]deploy[/].

    Example: [bold]overcast app apply wordpress.yaml[/]
    """
    from ..appd.apply import apply_document
    from ..appd.document import DocumentError, parse_document

    try:
        document = parse_document(file.read_text())
    except DocumentError as exc:
        err.print(f"[red]error:[/] {file}: {escape(str(exc))}")
        raise typer.Exit(2) from None
    with _errors():
        client = _session(settings(url, user, password, org))
        done = apply_document(client, document)
        app = client.get(f"appdapplications/{done.application_id}")
    if as_json:
        _print_json(
            {"application": app, "created": done.created, "updated": done.updated, "deleted": done.deleted}
        )
        return
    changes = len(done.created) + len(done.updated) + len(done.deleted)
    summary = (
        f"{len(done.created)} created, {len(done.updated)} updated, {len(done.deleted)} deleted"
        if changes
        else "nothing to change"
    )
    out.print(
        f"application [bold]{escape(app['name'])}[/]: {summary}; "
        f"{app.get('generatedObjects') or 0} objects deployed"
    )


app_app.command("deploy", help="Alias of apply.")(apply)


@app_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The application's name.")],
    enterprise: Enterprise,
    domain: Annotated[str, typer.Option("--domain", "-d", help="The domain it deploys into.")],
    address_pool: Annotated[
        str | None, typer.Option(help="Where tiers without a network take a /24, e.g. 10.20.0.0/16.")
    ] = None,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """An empty application (its zone and policies), to design with the API or apply.

    Example: [bold]overcast app create wordpress -e acme -d shop[/]
    """
    from ..appd.apply import find_one

    with _errors():
        client = _session(settings(url, user, password, org))
        ent = find_one(client, "enterprises", enterprise, "enterprise")
        dom = find_one(client, f"enterprises/{ent['ID']}/domains", domain, f"domain in '{enterprise}'")
        body: dict[str, Any] = {"name": name, "associatedDomainID": dom["ID"]}
        if address_pool:
            body["addressPool"] = address_pool
        created = client.create(f"enterprises/{ent['ID']}/appdapplications", body)
    out.print(f"application [bold]{escape(name)}[/] {created['ID']} in domain {escape(domain)}")


def _application(client: VsdClient, enterprise: str, name: str) -> dict[str, Any]:
    from ..appd.apply import find_application

    return find_application(client, enterprise, name)


def describe(client: VsdClient, app: dict[str, Any]) -> dict[str, Any]:
    """An application's design and what it generated, as plain data."""
    services = {s["ID"]: s for s in client.list_all(f"enterprises/{app['parentID']}/appdservices")}
    tiers = client.list_all(f"appdapplications/{app['ID']}/appdtiers")
    names = {t["ID"]: t["name"] for t in tiers}
    flows = []
    for flow in client.list_all(f"appdapplications/{app['ID']}/appdflows"):
        policies = client.list_all(f"appdflows/{flow['ID']}/appdflowsecuritypolicies")
        named = [
            (p.get("action"), services.get(p["associatedApplicationServiceID"], {}).get("name"))
            for p in policies
        ]
        named += [
            ("FORWARD", services.get(s, {}).get("name")) for s in flow.get("applicationServiceIDs") or []
        ]
        flows.append(
            {
                "name": flow["name"],
                "from": names.get(flow["originTierID"]),
                "to": names.get(flow["destinationTierID"]),
                "services": [{"action": a, "service": s} for a, s in named],
            }
        )
    generated: dict[str, list[str]] = {}
    zone = app.get("associatedZoneID")
    if zone:
        generated["zone"] = [client.get(f"zones/{zone}")["name"]]
        generated["subnets"] = [
            f"{s['name']} {s['address']}/{s['netmask']}" for s in client.list_all(f"zones/{zone}/subnets")
        ]
    for direction in ("ingress", "egress"):
        template = app.get(f"assoc{direction.capitalize()}ACLTemplateId")
        if template:
            entries = client.list_all(f"{direction}acltemplates/{template}/{direction}aclentrytemplates")
            generated[f"{direction} entries"] = [
                f"{e['priority']} {e['action']} {e.get('description') or ''}"
                for e in sorted(entries, key=lambda e: e["priority"])
            ]
    return {
        "name": app["name"],
        "ID": app["ID"],
        "domainID": app.get("associatedDomainID"),
        "addressPool": app.get("addressPool"),
        "generatedObjects": app.get("generatedObjects"),
        "tiers": [
            {
                "name": t["name"],
                "type": t["type"],
                "address": t.get("address"),
                "deployedAs": t.get("associatedObjectType"),
            }
            for t in tiers
        ],
        "flows": flows,
        "generated": generated,
    }


@app_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The application's name.")],
    enterprise: Enterprise,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """An application: tiers, flows with their services, and the objects deployed for it.

    Example: [bold]overcast app show wordpress -e acme[/]
    """
    with _errors():
        client = _session(settings(url, user, password, org))
        data = describe(client, _application(client, enterprise, name))
    if as_json:
        _print_json(data)
        return
    tree = Tree(f"[bold]{escape(data['name'])}[/] [dim]{data['generatedObjects']} objects deployed[/]")
    tiers = tree.add("tiers")
    for tier in data["tiers"]:
        tiers.add(
            f"{escape(tier['name'])} [dim]{tier['type']} {tier['address'] or ''} → {tier['deployedAs']}[/]"
        )
    flows = tree.add("flows")
    for flow in data["flows"]:
        services = ", ".join(
            f"{s['service']}" + ("" if s["action"] == "FORWARD" else " (DROP)") for s in flow["services"]
        )
        flows.add(f"{escape(str(flow['from']))} → {escape(str(flow['to']))} [dim]{escape(services)}[/]")
    deployed = tree.add("deployed")
    for what, items in data["generated"].items():
        node = deployed.add(what)
        for item in items:
            node.add(escape(item))
    out.print(tree)


@app_app.command("list")
def list_applications(
    enterprise: Enterprise,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """The applications of an enterprise."""
    from ..appd.apply import find_one

    with _errors():
        client = _session(settings(url, user, password, org))
        ent = find_one(client, "enterprises", enterprise, "enterprise")
        apps = client.list_all(f"enterprises/{ent['ID']}/appdapplications")
    if as_json:
        _print_json(apps)
        return
    for item in apps:
        out.print(f"{escape(item['name'])} [dim]{item['ID']}: {item.get('generatedObjects') or 0} objects[/]")


@app_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The application's name.")],
    enterprise: Enterprise,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Delete an application and everything it deployed (refused while endpoints are in its
    subnets).

    Example: [bold]overcast app delete wordpress -e acme[/]
    """
    with _errors():
        client = _session(settings(url, user, password, org))
        app = _application(client, enterprise, name)
        client.delete(f"appdapplications/{app['ID']}")
    out.print(
        f"deleted application [bold]{escape(name)}[/] and its {app.get('generatedObjects') or 0} objects"
    )
