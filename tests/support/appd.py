"""The seed's WordPress application, designed through the application designer's API."""

from __future__ import annotations

from typing import Any

from overcast.client.vsd import VsdClient
from overcast.testing.builders import make_l3_subnet


def wordpress(client: VsdClient, enterprise: str = "acme", *, name: str = "wordpress") -> dict[str, Any]:
    """The seed's WordPress application as a user sends it (app-designer.md §3.3, 3-tier)."""
    net = make_l3_subnet(client, enterprise, address="10.99.99.0")
    ent, domain = net["ent"], net["domain"]
    services = {
        svc: client.create(
            f"enterprises/{ent['ID']}/appdservices", {"name": svc, "protocol": "6", "destinationPort": port}
        )
        for svc, port in (("http", "80"), ("app-8080", "8080"), ("mysql", "3306"))
    }
    app = client.create(
        f"enterprises/{ent['ID']}/appdapplications", {"name": name, "associatedDomainID": domain["ID"]}
    )
    tiers = {
        "clients": client.create(
            f"appdapplications/{app['ID']}/appdtiers",
            {"name": "clients", "type": "NETWORK_MACRO", "address": "0.0.0.0", "netmask": "0.0.0.0"},
        ),
    }
    for number, tier in enumerate(("web", "app", "db"), start=1):
        tiers[tier] = client.create(
            f"appdapplications/{app['ID']}/appdtiers",
            {"name": tier, "type": "STANDARD", "address": f"10.10.{number}.0", "netmask": "255.255.255.0"},
        )
    flows = {}
    for origin, destination, service in (
        ("clients", "web", "http"),
        ("web", "app", "app-8080"),
        ("app", "db", "mysql"),
    ):
        flows[f"{origin}-{destination}"] = client.create(
            f"appdapplications/{app['ID']}/appdflows",
            {
                "name": f"{origin}-to-{destination}",
                "originTierID": tiers[origin]["ID"],
                "destinationTierID": tiers[destination]["ID"],
            },
        )
        client.create(
            f"appdflows/{flows[f'{origin}-{destination}']['ID']}/appdflowsecuritypolicies",
            {"action": "FORWARD", "associatedApplicationServiceID": services[service]["ID"]},
        )
    return {
        "ent": ent,
        "domain": domain,
        "app": client.get(f"appdapplications/{app['ID']}"),
        "tiers": tiers,
        "flows": flows,
        "services": services,
    }
