"""``overcast app apply``: make the directory's design of an application equal a
:class:`~.document.Document`, through the REST API (the thin shell around the pure parse).

Objects are matched by name: what the document names and the directory lacks is created,
what differs is updated, what the directory has and the document does not is deleted. Each
write redeploys the application in the directory (the generated objects follow), so applying
the same file twice writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..client.vsd import VsdClient
from .document import Document, Flow, Tier


class ApplyError(LookupError):
    """The document names something the directory does not have (an enterprise, a domain,
    another application): the CLI's error handling prints it as such."""


@dataclass
class Applied:
    application_id: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def find_one(client: VsdClient, path: str, name: str, what: str) -> dict[str, Any]:
    """The object named ``name`` in a listing (the first when names repeat)."""
    found = client.list_all(path, filter=f'name == "{_quoted(name)}"')
    if not found:
        raise ApplyError(f"no {what} named '{name}'")
    return found[0]


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(item["name"]): item for item in items}


def _changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def find_application(client: VsdClient, enterprise: str, name: str) -> dict[str, Any]:
    ent = find_one(client, "enterprises", enterprise, "enterprise")
    return find_one(
        client, f"enterprises/{ent['ID']}/appdapplications", name, f"application in '{enterprise}'"
    )


def apply_document(client: VsdClient, doc: Document) -> Applied:
    done = Applied()
    ent = find_one(client, "enterprises", doc.enterprise, "enterprise")
    domain = find_one(client, f"enterprises/{ent['ID']}/domains", doc.domain, f"domain in '{doc.enterprise}'")

    services = _by_name(client.list_all(f"enterprises/{ent['ID']}/appdservices"))
    for service in doc.services:
        body = service.body()
        if service.name not in services:
            services[service.name] = client.create(f"enterprises/{ent['ID']}/appdservices", body)
            done.created.append(f"service {service.name}")
        elif changed := _changes(services[service.name], body):
            services[service.name] = client.update(f"appdservices/{services[service.name]['ID']}", changed)
            done.updated.append(f"service {service.name}")

    apps = _by_name(client.list_all(f"enterprises/{ent['ID']}/appdapplications"))
    wanted_app = {"name": doc.application, "addressPool": doc.address_pool, "description": doc.description}
    app = apps.get(doc.application)
    if app is not None and app.get("associatedDomainID") != domain["ID"]:
        raise ApplyError(f"application '{doc.application}' runs in another domain: delete it to move it")
    if app is None:
        app = client.create(
            f"enterprises/{ent['ID']}/appdapplications", {**wanted_app, "associatedDomainID": domain["ID"]}
        )
        done.created.append(f"application {doc.application}")
    elif changed := _changes(app, {k: v for k, v in wanted_app.items() if v is not None}):
        app = client.update(f"appdapplications/{app['ID']}", changed)
        done.updated.append(f"application {doc.application}")
    done.application_id = app["ID"]

    tiers = _by_name(client.list_all(f"appdapplications/{app['ID']}/appdtiers"))
    flows = _by_name(client.list_all(f"appdapplications/{app['ID']}/appdflows"))
    wanted_tiers = {t.name: _tier_body(client, ent, apps, t) for t in doc.tiers}
    # Tiers whose type changes are replaced (the type is immutable): their flows go first.
    replaced = {n for n, t in tiers.items() if n in wanted_tiers and t["type"] != wanted_tiers[n]["type"]}
    gone_tiers = {t["ID"] for n, t in tiers.items() if n not in wanted_tiers or n in replaced}
    wanted_flows = {f.name: f for f in doc.flows}
    for name, flow in flows.items():
        if (
            name not in wanted_flows
            or {flow["originTierID"], flow["destinationTierID"]} & gone_tiers
            or (_endpoints(flow, tiers) != (wanted_flows[name].origin, wanted_flows[name].destination))
        ):
            client.delete(f"appdflows/{flow['ID']}")
            done.deleted.append(f"flow {name}")
    for name, tier in tiers.items():
        if tier["ID"] in gone_tiers:
            client.delete(f"appdtiers/{tier['ID']}")
            done.deleted.append(f"tier {name}")
    flows = _by_name(client.list_all(f"appdapplications/{app['ID']}/appdflows"))
    tiers = {n: t for n, t in tiers.items() if t["ID"] not in gone_tiers}
    for name, body in wanted_tiers.items():
        if name not in tiers:
            tiers[name] = client.create(f"appdapplications/{app['ID']}/appdtiers", body)
            done.created.append(f"tier {name}")
        elif changed := _changes(tiers[name], {k: v for k, v in body.items() if k != "type"}):
            tiers[name] = client.update(f"appdtiers/{tiers[name]['ID']}", changed)
            done.updated.append(f"tier {name}")
    for wanted in doc.flows:
        _apply_flow(client, app, wanted, flows.get(wanted.name), tiers, services, done)
    return done


def _endpoints(flow: dict[str, Any], tiers: dict[str, dict[str, Any]]) -> tuple[str, str]:
    names = {t["ID"]: n for n, t in tiers.items()}
    return names.get(flow["originTierID"], ""), names.get(flow["destinationTierID"], "")


def _tier_body(
    client: VsdClient, ent: dict[str, Any], apps: dict[str, dict[str, Any]], tier: Tier
) -> dict[str, Any]:
    body = tier.body()
    if tier.application is not None:
        other = apps.get(tier.application)
        if other is None:
            raise ApplyError(
                f"tier '{tier.name}': no application named '{tier.application}' in this enterprise"
            )
        body["associatedApplicationID"] = other["ID"]
    return body


def _apply_flow(
    client: VsdClient,
    app: dict[str, Any],
    flow: Flow,
    current: dict[str, Any] | None,
    tiers: dict[str, dict[str, Any]],
    services: dict[str, dict[str, Any]],
    done: Applied,
) -> None:
    """A flow and one security policy per service (its action; priorities in document order)."""
    if current is None:
        current = client.create(
            f"appdapplications/{app['ID']}/appdflows",
            {
                "name": flow.name,
                "originTierID": tiers[flow.origin]["ID"],
                "destinationTierID": tiers[flow.destination]["ID"],
            },
        )
        done.created.append(f"flow {flow.name}")
    policies = {
        p["associatedApplicationServiceID"]: p
        for p in client.list_all(f"appdflows/{current['ID']}/appdflowsecuritypolicies")
    }
    wanted = {services[name]["ID"]: (index, name) for index, name in enumerate(flow.services)}
    for service_id, policy in policies.items():
        if service_id not in wanted or policy.get("priority") != wanted[service_id][0]:
            client.delete(f"appdflowsecuritypolicies/{policy['ID']}")
            done.deleted.append(f"flow {flow.name}: {policy.get('priority')}")
    kept = {s for s, p in policies.items() if s in wanted and p.get("priority") == wanted[s][0]}
    for service_id, (index, name) in wanted.items():
        body = {"action": flow.action, "associatedApplicationServiceID": service_id, "priority": index}
        if service_id not in kept:
            client.create(f"appdflows/{current['ID']}/appdflowsecuritypolicies", body)
            done.created.append(f"flow {flow.name}: {name}")
        elif policies[service_id].get("action") != flow.action:
            client.update(f"appdflowsecuritypolicies/{policies[service_id]['ID']}", {"action": flow.action})
            done.updated.append(f"flow {flow.name}: {name}")
