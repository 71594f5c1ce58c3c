"""Building a small L3 topology through the API, the way an orchestrator would."""

from __future__ import annotations

from typing import Any

from ..client.vsd import VsdClient


def make_l3_subnet(
    client: VsdClient,
    enterprise: str,
    *,
    address: str = "10.0.0.0",
    netmask: str = "255.255.255.0",
    domain: str = "d",
) -> dict[str, Any]:
    """Enterprise → domain template → domain → zone → subnet; returns each created object."""
    ent = client.create("enterprises", {"name": enterprise})
    template = client.create(f"enterprises/{ent['ID']}/domaintemplates", {"name": "t"})
    dom = client.create(f"enterprises/{ent['ID']}/domains", {"name": domain, "templateID": template["ID"]})
    zone = client.create(f"domains/{dom['ID']}/zones", {"name": "z"})
    subnet = client.create(
        f"zones/{zone['ID']}/subnets", {"name": "s", "address": address, "netmask": netmask}
    )
    return {"ent": ent, "template": template, "domain": dom, "zone": zone, "subnet": subnet}
