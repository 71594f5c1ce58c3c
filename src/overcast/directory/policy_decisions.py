"""``GET /<containerinterfaces|vminterfaces|vports>/{id}/policydecisions``: the policy an
endpoint is subject to, in VSD's ``policydecision`` shape — the ingress and egress ACL entries
that apply to it, in the order the datapath evaluates them.

Computed from the compiler over the endpoint's enterprise (the same compile the datapath and
compliance use: :func:`overcast.compliance.evaluate.build_world` places every endpoint), after
reading the object with the caller's rights (another tenant's is a 404). An entry applies when
its location is anything, or a set (policy group, zone, subnet, macro) that holds the
endpoint's address; an entry matching relative to the endpoint (its zone, subnet, domain)
always applies. Entries of inactive or draft templates do not.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..compliance.evaluate import build_world
from ..policy.oracle import covers
from .compliance import policy_input
from .errors import not_found

if TYPE_CHECKING:
    from ..policy.compiler import PolicyInput
    from .operations import Operations
    from .principals import Principal
    from .service import Directory

SERVED = ("containerinterfaces", "vminterfaces", "vports")
_NAMESPACE = uuid.UUID("6f0d3c52-5f0e-4b7c-9a55-0c0e5d7a1e21")


def policy_decisions(
    directory: Directory, principal: Principal, resource: str, object_id: str
) -> list[dict[str, Any]]:
    if resource not in SERVED:
        raise not_found("policydecisions", "")
    obj = directory.get(principal, resource, object_id)  # the caller's rights: 404 if unseen
    vport_id = object_id if resource == "vports" else obj.get("VPortID")
    decision: dict[str, Any] = {
        "ID": obj.get("policyDecisionID") or str(uuid.uuid5(_NAMESPACE, object_id)),
        "parentID": object_id,
        "parentType": resource.removesuffix("s"),
        "ingressACLs": [],
        "egressACLs": [],
        "ingressAdvFwd": [],
        "fipACLs": [],
        "qos": {},
        "egressQos": {},
        "stats": {},
    }

    def read(ops: Operations) -> PolicyInput:
        found = ops.tx.get(object_id)
        enterprise_id = found.enterprise_id if found is not None else None
        return policy_input(ops, [enterprise_id] if enterprise_id else None)

    state = directory.read_as_system(read)
    world = build_world(state)
    found = world.endpoints.get(vport_id or "")
    if found is None:
        return [decision]  # not an endpoint (no interface with an address): nothing applies
    domain_id, endpoint = found
    view = world.views[domain_id]
    for direction, rules in (("ingress", view.ingress), ("egress", view.egress)):
        kind = f"{direction}aclentrytemplate"
        seen: list[str] = []
        for rule in rules:
            applies = rule.local is None or (
                endpoint.ip is not None and covers(view.set(rule.local), endpoint.ip)
            )
            if applies and rule.entry_id not in seen:
                seen.append(rule.entry_id)
        decision[f"{direction}ACLs"] = [
            {**state.objects[kind][entry_id], "ID": entry_id}
            for entry_id in seen
            if entry_id in state.objects[kind]
        ]
    return [decision]
