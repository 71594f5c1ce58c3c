"""The application designer in the directory: validation of services, applications, tiers,
flows and flow security policies, and the reconciler that keeps an application's generated
objects equal to :func:`overcast.appd.compile.compile_application` of its design.

The reconciler runs inside the transaction of the write that changed the design, through the
same internal create/update/delete paths as everything else (so the change log, push events,
controllers and agents see ordinary objects), and only touches objects whose ``externalID``
names the application. A design that cannot be deployed, or generated objects that cannot be
changed (a tier's subnet with vports in it), refuse the write whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_

from ...appd.compile import (
    PREFIX,
    Design,
    DesignError,
    Desired,
    Ref,
    application_cycle,
    carve,
    compile_application,
    owner_of,
)
from .. import validation
from ..db import objects
from ..errors import conflict, invalid
from ..objects import Obj
from .base import Behaviour

if TYPE_CHECKING:
    from ..operations import Operations

#: Kinds an application generates, in the order they are deleted (dependents first).
GENERATED_KINDS = (
    "ingressaclentrytemplate",
    "egressaclentrytemplate",
    "ingressacltemplate",
    "egressacltemplate",
    "policygroup",
    "subnet",
    "enterprisenetwork",
    "zone",
)
_ENTRY_KINDS = GENERATED_KINDS[:2]


# --- ownership ---------------------------------------------------------------------------


@contextmanager
def reconciling(ops: Operations) -> Iterator[None]:
    """Writes by the reconciler itself: generated objects may change."""
    outer, ops.reconciling = ops.reconciling, True
    try:
        yield
    finally:
        ops.reconciling = outer


def check_not_generated(ops: Operations, obj: Obj, *, creating_kind: str | None = None) -> None:
    """Refuse (409, naming the application) a client's change to an object an application
    generated — or a child created under one, but for vports in a tier's subnet (how
    endpoints join a tier)."""
    if ops.reconciling or creating_kind == "vport":
        return
    app_id = owner_of(obj.data.get("externalID"))
    if app_id is None:
        return
    app = ops.tx.get(app_id)
    name = app.data.get("name") if app is not None else app_id
    what = f"add a {creating_kind} to" if creating_kind else "change"
    raise conflict(
        f"The {obj.kind} '{obj.data.get('name') or obj.data.get('description') or obj.id}' is owned by "
        f"application '{name}': change the application instead of trying to {what} it.",
        title="Owned by an application",
    )


def check_external_id(ops: Operations, body: Any) -> None:
    """Clients may not claim an application's key for their own objects."""
    if ops.reconciling or not isinstance(body, dict):
        return
    value = body.get("externalID")
    if isinstance(value, str) and value.startswith(PREFIX):
        raise invalid("externalID", f"externalIDs starting with '{PREFIX}' are the application designer's.")


def generated(ops: Operations, app: Obj) -> dict[str, Obj]:
    """The objects the application generated, by key."""
    found = ops.tx.select(
        and_(
            objects.c.kind.in_(GENERATED_KINDS),
            objects.c.enterprise_id == app.enterprise_id,
            objects.c.data["externalID"].as_string().like(f"{PREFIX}{app.id}:%"),
        )
    )
    return {str(o.data["externalID"]): o for o in found if o.id not in ops.doomed}


def check_no_endpoints(ops: Operations, obj: Obj) -> None:
    """A tier's subnet goes only once no vport is in it (endpoints are not the application's)."""
    if obj.kind == "subnet" and (vports := ops.tx.children(obj.id, "vport")):
        raise conflict(
            f"The subnet '{obj.data.get('name')}' still has {len(vports)} vport(s) "
            f"('{vports[0].data.get('name')}'…); detach its endpoints first.",
            title="Object in use",
        )


def applications_in(ops: Operations, domain: Obj) -> list[Obj]:
    return [
        a
        for a in ops.tx.select_kinds_in_enterprise(("appdapplication",), domain.enterprise_id or "")
        if a.data.get("associatedDomainID") == domain.id and a.id not in ops.doomed
    ]


# --- the reconciler -----------------------------------------------------------------------


def _ordered(items: list[Obj]) -> list[Obj]:
    return sorted((i for i in items), key=lambda o: (o.created, o.id))


def _json(obj: Obj) -> dict[str, Any]:
    return {**obj.data, "ID": obj.id, "parentID": obj.parent_id}


def design_of(ops: Operations, app: Obj, existing: dict[str, Obj]) -> Design:
    """The application's design as plain data, with the tiers' networks settled: a tier's own
    address, else the one its subnet already has, else the next free /24 of the pool."""
    domain = ops.tx.need(app.data["associatedDomainID"], "domain", prop="associatedDomainID")
    source = app.data.get("templateID") or app.id  # an instance is designed by its template
    tiers = [t for t in _ordered(ops.tx.children(source, "appdtier")) if t.id not in ops.doomed]
    flows = [f for f in _ordered(ops.tx.children(source, "appdflow")) if f.id not in ops.doomed]
    policies = {
        f.id: [
            _json(p)
            for p in _ordered(ops.tx.children(f.id, "appdflowsecuritypolicy"))
            if p.id not in ops.doomed
        ]
        for f in flows
    }
    services = {
        s.id: _json(s)
        for s in ops.tx.select_kinds_in_enterprise(("appdservice",), app.enterprise_id or "")
        if s.id not in ops.doomed
    }
    networks: dict[str, tuple[str, str, str]] = {}
    unplaced = []
    for tier in tiers:
        if tier.data.get("type") != "STANDARD":
            continue
        if tier.data.get("address"):
            network = ipaddress.IPv4Network(f"{tier.data['address']}/{tier.data['netmask']}")
            networks[tier.id] = (
                tier.data["address"],
                tier.data["netmask"],
                tier.data.get("gateway") or validation.first_host(network),
            )
        elif (
            subnet := existing.get(f"{PREFIX}{app.id}:tier:{tier.id}")
        ) is not None and subnet.kind == "subnet":
            networks[tier.id] = (subnet.data["address"], subnet.data["netmask"], subnet.data["gateway"])
        elif app.data.get("addressPool"):
            unplaced.append(tier)
    if unplaced:
        taken = [
            f"{s.data['address']}/{s.data['netmask']}"
            for s in ops.tx.descendants(domain.id, "subnet")
            if s.data.get("address") and s.id not in ops.doomed
        ] + [f"{a}/{m}" for a, m, _ in networks.values()]
        try:
            for tier, cidr in zip(
                unplaced, carve(app.data["addressPool"], taken, len(unplaced)), strict=True
            ):
                network = ipaddress.IPv4Network(cidr)
                networks[tier.id] = (
                    str(network.network_address),
                    str(network.netmask),
                    validation.first_host(network),
                )
        except DesignError as exc:
            raise invalid(exc.prop, str(exc)) from None
    zones = {}
    for tier in tiers:
        other_id = tier.data.get("associatedApplicationID")
        if tier.data.get("type") == "APPLICATION" and other_id:
            other = ops.tx.get(other_id)
            if other is not None and other.data.get("associatedZoneID"):
                zones[other.id] = other.data["associatedZoneID"]
    return Design(
        _json(app),
        _json(domain),
        [_json(t) for t in tiers],
        [_json(f) for f in flows],
        policies,
        services,
        networks,
        zones,
    )


def reconcile(ops: Operations, app: Obj) -> None:
    """Create, update and delete the application's generated objects until they equal the
    compile of its design. Idempotent: a second call changes nothing."""
    if app.id in ops.doomed:
        return
    existing = generated(ops, app)
    try:
        desired = compile_application(design_of(ops, app, existing))
    except DesignError as exc:
        raise invalid(exc.prop or "name", str(exc)) from None
    wanted = {d.key: d for d in desired}
    ids = {k: o.id for k, o in existing.items()}
    with reconciling(ops):
        # What goes: objects no longer wanted or of another kind, then entries that differ
        # (deleted and created again: priorities move between entries of one template).
        gone = {k for k, o in existing.items() if k not in wanted or wanted[k].kind != o.kind}
        for k in gone:
            ids.pop(k, None)
        for k, obj in existing.items():
            if k not in gone and obj.kind in _ENTRY_KINDS and _differs(obj, _resolved(wanted[k], ids)):
                gone.add(k)
                ids.pop(k, None)
        for obj in sorted((existing[k] for k in gone), key=lambda o: GENERATED_KINDS.index(o.kind)):
            if ops.tx.get(obj.id) is not None and obj.id not in ops.doomed:
                check_no_endpoints(ops, obj)
                ops.delete(obj, confirmed=True)
        for item in desired:
            data = _resolved(item, ids)
            current = existing.get(item.key) if item.key not in gone else None
            if current is None:
                parent_id = _id(item.parent, ids)
                created = ops.create_internal(
                    ops.tx.need(parent_id, _parent_kinds(item.kind)), item.kind, data
                )
                ids[item.key] = created.id
            elif _differs(current, data):
                ops.update(
                    current, {k: v for k, v in data.items() if current.data.get(k) != v}, confirmed=True
                )
    summary = {
        "associatedZoneID": ids.get(f"{PREFIX}{app.id}:zone"),
        "assocIngressACLTemplateId": ids.get(f"{PREFIX}{app.id}:ingress"),
        "assocEgressACLTemplateId": ids.get(f"{PREFIX}{app.id}:egress"),
        "generatedObjects": len(desired),
    }
    if any(app.data.get(k) != v for k, v in summary.items()):
        app.data.update(summary)
        ops.touch(app)
    if app.data.get("templateID"):
        return  # the template's tiers describe every instance: nothing of one instance on them
    for tier in ops.tx.children(app.id, "appdtier"):
        if tier.id in ops.doomed:
            continue
        target = ids.get(f"{PREFIX}{app.id}:tier:{tier.id}")
        kind = wanted[f"{PREFIX}{app.id}:tier:{tier.id}"].kind if target else None
        if tier.data.get("type") == "APPLICATION":
            other = ops.tx.get(tier.data.get("associatedApplicationID") or "")
            target, kind = (other.data.get("associatedZoneID") if other else None), "zone"
        elif tier.data.get("associatedNetworkMacroID"):
            target, kind = tier.data["associatedNetworkMacroID"], "enterprisenetwork"
        if tier.data.get("associatedObjectID") != target or tier.data.get("associatedObjectType") != kind:
            tier.data.update(associatedObjectID=target, associatedObjectType=kind)
            ops.touch(tier)


def _id(value: str | Ref, ids: dict[str, str]) -> str:
    if isinstance(value, Ref):
        return ids[value.key]
    return value


def _resolved(item: Desired, ids: dict[str, str]) -> dict[str, Any]:
    return {k: (ids.get(v.key) if isinstance(v, Ref) else v) for k, v in item.data.items()}


def _differs(obj: Obj, data: dict[str, Any]) -> bool:
    return any(obj.data.get(k) != v for k, v in data.items())


def _parent_kinds(kind: str) -> tuple[str, ...]:
    return {
        "zone": ("domain",),
        "subnet": ("zone",),
        "policygroup": ("domain",),
        "enterprisenetwork": ("enterprise",),
        "ingressacltemplate": ("domain",),
        "egressacltemplate": ("domain",),
        "ingressaclentrytemplate": ("ingressacltemplate",),
        "egressaclentrytemplate": ("egressacltemplate",),
    }[kind]


def design_owner(ops: Operations, obj: Obj) -> Obj | None:
    """The application or application template a tier, flow or flow security policy belongs to."""
    node: Obj | None = obj
    while node is not None and node.kind not in ("appdapplication", "appdapplicationtemplate"):
        node = ops.tx.get(node.parent_id) if node.parent_id else None
    return node


def instances_of(ops: Operations, template: Obj) -> list[Obj]:
    return [
        a
        for a in ops.tx.select_kinds_in_enterprise(("appdapplication",), template.enterprise_id or "")
        if a.data.get("templateID") == template.id and a.id not in ops.doomed
    ]


# --- behaviours ---------------------------------------------------------------------------


class _DesignPart(Behaviour):
    """A part of an application: any change redeploys the application."""

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        self._redeploy(ops, obj)

    def after_update(self, ops: Operations, old: Obj, obj: Obj) -> None:
        self._redeploy(ops, obj)

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        self._redeploy(ops, obj)

    @staticmethod
    def _redeploy(ops: Operations, obj: Obj) -> None:
        """The application again, or every instance of the template (a template change
        reaches every instance, in the same transaction)."""
        owner = design_owner(ops, obj)
        if owner is None:
            return
        for app in instances_of(ops, owner) if owner.kind == "appdapplicationtemplate" else [owner]:
            reconcile(ops, app)

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        owner = parent if parent is not None else design_owner(ops, obj)
        if owner is not None and owner.kind == "appdapplication" and owner.data.get("templateID"):
            template = ops.tx.get(owner.data["templateID"])
            named = template.data.get("name") if template is not None else owner.data["templateID"]
            raise conflict(
                f"The application '{owner.data.get('name')}' is an instance of template "
                f"'{named}': change the template.",
                title="Instance of a template",
            )


class ServiceBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        d = obj.data
        d["etherType"] = validation.ether_type(d["etherType"])
        d["DSCP"] = validation.dscp(d["DSCP"])
        d["protocol"] = validation.protocol(d["protocol"])
        for attr in ("sourcePort", "destinationPort"):
            d[attr] = validation.port_spec(attr, d.get(attr) or "*")
            if d[attr] != "*" and d["protocol"] not in ("6", "17"):
                raise invalid(attr, "Ports apply only to TCP (6) and UDP (17).")

    def after_update(self, ops: Operations, old: Obj, obj: Obj) -> None:
        for app in ops.tx.select_kinds_in_enterprise(("appdapplication",), obj.enterprise_id or ""):
            reconcile(ops, app)

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        kinds = ("appdflow", "appdflowsecuritypolicy")
        for user in ops.tx.select_kinds_in_enterprise(kinds, obj.enterprise_id or ""):
            named = user.data.get("applicationServiceIDs") or [
                user.data.get("associatedApplicationServiceID")
            ]
            if obj.id in named and user.id not in doomed:
                raise conflict(
                    f"The service '{obj.data.get('name')}' is used by {user.kind} {user.id}; "
                    "remove it from the flow first.",
                    title="Object in use",
                )


class ApplicationBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        domain = ops.need(obj.data["associatedDomainID"], "domain", prop="associatedDomainID")
        if domain.enterprise_id != obj.enterprise_id:
            raise invalid("associatedDomainID", "The domain belongs to another enterprise.")
        if old is None and obj.data.get("templateID"):
            template = ops.need(obj.data["templateID"], "appdapplicationtemplate", prop="templateID")
            if template.enterprise_id != obj.enterprise_id:
                raise invalid("templateID", "The application template belongs to another enterprise.")
        if obj.data.get("addressPool"):
            try:
                pool = ipaddress.IPv4Network(obj.data["addressPool"], strict=True)
            except ValueError:
                raise invalid(
                    "addressPool", "An address pool is an IPv4 network, e.g. 10.20.0.0/16."
                ) from None
            obj.data["addressPool"] = str(pool)

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        reconcile(ops, obj)
        self._count_instances(ops, obj)

    def after_update(self, ops: Operations, old: Obj, obj: Obj) -> None:
        reconcile(ops, obj)

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        self._count_instances(ops, obj)

    @staticmethod
    def _count_instances(ops: Operations, app: Obj) -> None:
        template = ops.tx.get(app.data.get("templateID") or "")
        if template is not None and template.id not in ops.doomed:
            template.data["instances"] = len(instances_of(ops, template))
            ops.touch(template)

    def extra_doomed(self, ops: Operations, obj: Obj) -> list[Obj]:
        """What it generated goes with it (refused while a tier's subnet has vports)."""
        return sorted(generated(ops, obj).values(), key=lambda o: -GENERATED_KINDS.index(o.kind))

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        for made in generated(ops, obj).values():
            check_no_endpoints(ops, made)
        for tier in ops.tx.select_kinds_in_enterprise(("appdtier",), obj.enterprise_id or ""):
            if tier.data.get("associatedApplicationID") == obj.id and tier.id not in doomed:
                raise conflict(
                    f"The application '{obj.data.get('name')}' is a tier of another application "
                    f"(tier {tier.id}); remove that tier first.",
                    title="Object in use",
                )


class TierBehaviour(_DesignPart):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        super().prepare(ops, obj, parent, old)
        d = obj.data
        app = (
            parent
            if parent is not None
            else ops.tx.need(obj.parent_id, ("appdapplication", "appdapplicationtemplate"))
        )
        kind = d["type"]
        if d.get("address") or d.get("netmask"):
            if kind not in ("STANDARD", "NETWORK_MACRO"):
                raise invalid("address", f"A tier of type {kind} has no address of its own.")
            network = validation.ipv4_network(d.get("address") or "", d.get("netmask") or "")
            if kind == "STANDARD":
                d["gateway"] = (
                    validation.gateway_in(network, d["gateway"])
                    if d.get("gateway")
                    else validation.first_host(network)
                )
                pool = app.data.get("addressPool")
                if pool and not network.subnet_of(ipaddress.IPv4Network(pool)):
                    raise invalid(
                        "address", f"The tier's network {network} is outside the address pool {pool}."
                    )
        if kind == "NETWORK_MACRO" and d.get("associatedNetworkMacroID"):
            macro = ops.need(
                d["associatedNetworkMacroID"], "enterprisenetwork", prop="associatedNetworkMacroID"
            )
            if macro.parent_id != app.enterprise_id:
                raise invalid("associatedNetworkMacroID", "The network macro belongs to another enterprise.")
        elif kind == "NETWORK_MACRO" and not d.get("address"):
            raise invalid("address", "A network macro tier needs an address and netmask, or a macro.")
        if kind == "APPLICATION":
            other = ops.need(
                d.get("associatedApplicationID"), "appdapplication", prop="associatedApplicationID"
            )
            if app.kind == "appdapplicationtemplate":
                return  # each instance is checked when it deploys (its domain must hold the other)
            if other.data.get("associatedDomainID") != app.data.get("associatedDomainID"):
                raise invalid(
                    "associatedApplicationID",
                    "Flows between tiers of different domains cannot be deployed: the application "
                    "this tier names is in another domain.",
                )
            references: dict[str, set[str]] = {}
            for tier in ops.tx.select_kinds_in_enterprise(("appdtier",), app.enterprise_id or ""):
                if tier.data.get("type") == "APPLICATION" and tier.id != obj.id:
                    references.setdefault(str(tier.parent_id), set()).add(
                        str(tier.data.get("associatedApplicationID"))
                    )
            references.setdefault(app.id, set()).add(other.id)
            cycle = application_cycle(app.id, references)
            if cycle:
                names = [str((ops.tx.get(i) or obj).data.get("name")) for i in cycle]
                raise invalid(
                    "associatedApplicationID",
                    "Application tiers may not form a cycle: " + " → ".join(names) + ".",
                )

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        for flow in ops.tx.children(str(obj.parent_id), "appdflow"):
            if (
                obj.id in (flow.data.get("originTierID"), flow.data.get("destinationTierID"))
                and flow.id not in doomed
            ):
                raise conflict(
                    f"The tier '{obj.data.get('name')}' is used by flow '{flow.data.get('name')}'; "
                    "delete the flow first.",
                    title="Object in use",
                )


class FlowBehaviour(_DesignPart):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        super().prepare(ops, obj, parent, old)
        d = obj.data
        for attr in ("originTierID", "destinationTierID"):
            tier = ops.need(d[attr], "appdtier", prop=attr)
            if tier.parent_id != obj.parent_id:
                raise invalid(
                    attr,
                    "A flow joins two tiers of its own application (flows between tiers of "
                    "different applications or domains cannot be deployed).",
                )
        if d["originTierID"] == d["destinationTierID"]:
            raise invalid("destinationTierID", "A flow joins two different tiers.")
        services = d.get("applicationServiceIDs") or []
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise invalid("applicationServiceIDs", "A list of service IDs.")
        for service_id in services:
            service = ops.need(service_id, "appdservice", prop="applicationServiceIDs")
            if service.enterprise_id != obj.enterprise_id:
                raise invalid(
                    "applicationServiceIDs", f"The service {service_id} belongs to another enterprise."
                )


class FlowPolicyBehaviour(_DesignPart):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        super().prepare(ops, obj, parent, old)
        d = obj.data
        service = ops.need(
            d["associatedApplicationServiceID"], "appdservice", prop="associatedApplicationServiceID"
        )
        if service.enterprise_id != obj.enterprise_id:
            raise invalid("associatedApplicationServiceID", "The service belongs to another enterprise.")
        siblings = [p for p in ops.tx.children(str(obj.parent_id), obj.kind) if p.id != obj.id]
        taken = {p.data.get("priority") for p in siblings}
        if d.get("priority") is None:
            d["priority"] = next(n for n in range(50) if n not in taken) if len(taken) < 50 else 50
        if not 0 <= d["priority"] <= 49:
            raise invalid(
                "priority", "A flow security policy's priority is 0-49 (its order within the flow)."
            )
        if d["priority"] in taken:
            raise conflict(
                f"Another security policy of this flow has priority {d['priority']}.",
                prop="priority",
                title="Invalid input",
            )


class ApplicationTemplateBehaviour(Behaviour):
    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        live = [a for a in instances_of(ops, obj) if a.id not in doomed]
        if live:
            raise conflict(
                f"The template '{obj.data.get('name')}' has {len(live)} instance(s) "
                f"('{live[0].data.get('name')}'…); delete them first.",
                title="Object in use",
            )
