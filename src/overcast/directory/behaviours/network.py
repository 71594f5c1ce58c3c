"""Templates and their instances: domains, zones, subnets, L2 domains (addresses, VNIs,
service IDs, route targets, template instantiation)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from ..errors import conflict, invalid
from ..objects import Obj
from .appd import applications_in
from .base import (
    DISRUPTIVE_DOMAIN_ATTRS,
    ROUTE_ASN,
    Behaviour,
    check_prefix,
    gateway_mac,
    network_of,
    reference_in_use,
)

if TYPE_CHECKING:
    from ..operations import Operations


class TemplateBehaviour(Behaviour):
    """domaintemplate / l2domaintemplate: refuse deletion while instances exist."""

    instance_kind = "domain"

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        for instance in ops.tx.descendants(obj.id, self.instance_kind):
            if instance.id not in doomed:
                raise conflict(
                    f"Template '{obj.data.get('name')}' is instantiated by "
                    f"{self.instance_kind} '{instance.data.get('name')}'; delete it first.",
                    title="Object in use",
                )


class L2DomainTemplateBehaviour(TemplateBehaviour):
    instance_kind = "l2domain"

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if obj.data.get("DHCPManaged"):
            for attr in ("address", "netmask"):
                if not obj.data.get(attr):
                    raise invalid(attr, "This value is mandatory when DHCPManaged is true.")
        if obj.data.get("address") and obj.data.get("netmask"):
            check_prefix(obj, gateway_required=False)


class SubnetTemplateBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        check_prefix(obj, gateway_required=True)


def _instantiate_contents(ops: Operations, template: Obj, instance: Obj) -> None:
    """Copy a template's zones, subnets, policy groups and ACLs into a new domain/l2domain.

    ACL entries that name template objects (policy-group, zone, subnet templates) are rewritten
    to name the objects instantiated from them.
    """
    mapping: dict[str, str] = {}
    skip = {"ID", "parentID", "parentType", "templateID"}

    def copy(src: Obj, keep: tuple[str, ...]) -> dict[str, Any]:
        return {k: v for k, v in src.data.items() if k in keep and k not in skip and v is not None}

    for zt in ops.tx.children(template.id, "zonetemplate"):
        zone = ops.create_internal(
            instance, "zone", {**copy(zt, ("name", "description")), "templateID": zt.id}
        )
        mapping[zt.id] = zone.id
        for st in ops.tx.children(zt.id, "subnettemplate"):
            subnet = ops.create_internal(
                zone,
                "subnet",
                {
                    **copy(st, ("name", "description", "address", "netmask", "gateway", "IPType")),
                    "templateID": st.id,
                },
            )
            mapping[st.id] = subnet.id
    for pgt in ops.tx.children(template.id, "policygrouptemplate"):
        pg = ops.create_internal(
            instance,
            "policygroup",
            {**copy(pgt, ("name", "description", "type", "external")), "templateID": pgt.id},
        )
        mapping[pgt.id] = pg.id
    for kind in ("ingressacltemplate", "egressacltemplate"):
        entry_kind = kind.replace("acltemplate", "aclentrytemplate")
        for acl in ops.tx.children(template.id, kind):
            acl_data = {k: v for k, v in acl.data.items() if k not in ops.readonly_of(kind)}
            new_acl = ops.create_internal(instance, kind, acl_data)
            for entry in ops.tx.children(acl.id, entry_kind):
                data = {k: v for k, v in entry.data.items() if k not in ops.readonly_of(entry_kind)}
                for key in ("locationID", "networkID"):
                    if data.get(key) in mapping:
                        data[key] = mapping[data[key]]
                ops.create_internal(new_acl, entry_kind, data)


class DomainBehaviour(Behaviour):
    def links(self, obj: Obj) -> list[str]:
        return [obj.parent_id or "", obj.data.get("templateID") or ""]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            for attr in ("routeDistinguisher", "routeTarget"):
                if obj.data.get(attr):
                    _route_value(attr, obj.data[attr])
            return
        template = ops.tx.get(obj.data.get("templateID"))
        if template is None or template.kind != "domaintemplate" or template.parent_id != obj.parent_id:
            raise invalid(
                "templateID",
                "A domain is created by instantiating a domain template of the same enterprise.",
            )
        service_id = ops.tx.allocate("serviceID")
        obj.data.update(
            enterpriseID=obj.parent_id,
            serviceID=service_id,
            domainID=ops.tx.allocate("domainID"),
            labelID=ops.tx.allocate("labelID"),
            backHaulServiceID=ops.tx.allocate("serviceID"),
            backHaulVNID=ops.tx.allocate("vni"),
            policyChangeStatus="APPLIED",
        )
        obj.data.setdefault("routeDistinguisher", f"{ROUTE_ASN}:{service_id}")
        obj.data.setdefault("routeTarget", f"{ROUTE_ASN}:{service_id}")
        for attr in ("routeDistinguisher", "routeTarget"):
            _route_value(attr, obj.data[attr])

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        _instantiate_contents(ops, ops.tx.need(obj.data["templateID"], "domaintemplate"), obj)

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        for app in applications_in(ops, obj):
            if app.id not in doomed:
                raise conflict(
                    f"The domain '{obj.data.get('name')}' runs application '{app.data.get('name')}'; "
                    "delete the application first.",
                    title="Object in use",
                )

    def confirm_update(self, ops: Operations, old: Obj, obj: Obj) -> str | None:
        changed = [a for a in DISRUPTIVE_DOMAIN_ATTRS if old.data.get(a) != obj.data.get(a)]
        if changed and ops.tx.descendants(obj.id, "vport"):
            return (
                f"Changing {', '.join(changed)} of domain '{obj.data.get('name')}' affects its "
                "attached endpoints. Confirm to apply."
            )
        return None


def _route_value(attr: str, value: str) -> None:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise invalid(attr, f"'{value}' is not in ASN:value format.")


class ZoneBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is None:
            assert parent is not None
            obj.data["policyGroupID"] = ops.tx.next_value(f"pgid:{parent.id}")
        if obj.data.get("address") or obj.data.get("netmask"):
            check_prefix(obj, gateway_required=False)

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        reference_in_use(ops, obj, doomed)


class SubnetBehaviour(Behaviour):
    def links(self, obj: Obj) -> list[str]:
        return [obj.parent_id or "", obj.data.get("templateID") or ""]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        network = check_prefix(obj, gateway_required=True)
        zone = parent if parent is not None else ops.tx.need(obj.parent_id, "zone")
        domain_id = zone.parent_id
        for other in ops.tx.descendants(domain_id or "", "subnet"):
            if other.id != obj.id and network_of(other).overlaps(network):
                raise conflict(
                    f"Subnet {network} overlaps subnet '{other.data.get('name')}' "
                    f"({network_of(other)}) of the same domain.",
                    prop="address",
                    title="Invalid input",
                )
        if obj.data.get("advertise") and (
            old is None
            or not old.data.get("advertise")
            or (obj.data["address"], obj.data["netmask"]) != (old.data["address"], old.data["netmask"])
        ):
            check_advertised(ops, obj, network)
        if old is None:
            template_id = obj.data.get("templateID")
            if template_id:
                ops.need(template_id, "subnettemplate", prop="templateID")
            vni = ops.tx.allocate("vni")
            obj.data.update(
                vnId=vni,
                serviceID=ops.tx.allocate("serviceID"),
                policyGroupID=ops.tx.next_value(f"pgid:{domain_id}"),
                gatewayMACAddress=gateway_mac(vni),
                entityState=None,
            )
            domain = ops.tx.need(domain_id, "domain")
            obj.data.setdefault("routeDistinguisher", domain.data.get("routeDistinguisher"))
            obj.data.setdefault("routeTarget", domain.data.get("routeTarget"))
            return
        # An update may move the gateway or resize the subnet only around what is allocated.
        gateway = int(ipaddress.IPv4Address(obj.data["gateway"]))
        if obj.data["gateway"] != old.data.get("gateway") and ops.tx.address_in_use(obj.id, gateway):
            raise conflict(
                f"Gateway {obj.data['gateway']} is already assigned to an interface.", prop="gateway"
            )
        if (obj.data["address"], obj.data["netmask"]) != (old.data["address"], old.data["netmask"]):
            if ops.tx.count_addresses(obj.id):
                raise conflict(
                    "The subnet's address range cannot change while interfaces hold addresses in it.",
                    prop="address",
                )

    def confirm_delete(self, ops: Operations, obj: Obj) -> bool:
        return bool(ops.tx.children(obj.id, "vport"))

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        reference_in_use(ops, obj, doomed)


def check_advertised(ops: Operations, obj: Obj, network: ipaddress.IPv4Network) -> None:
    """An advertised subnet is announced as is to the same routers as every other: two may not
    overlap, whoever owns them. The answer names no other tenant's subnet. Rare (a subnet
    turning advertised), so every subnet is read; writers serialise on a name lock."""
    ops.tx.lock_name("advertised-subnets")
    for other in ops.tx.of_kind("subnet"):
        if other.id != obj.id and other.data.get("advertise") and network_of(other).overlaps(network):
            raise conflict(
                f"Subnet {network} overlaps an address range another subnet already advertises.",
                prop="advertise",
                title="Invalid input",
            )


class L2DomainBehaviour(Behaviour):
    def links(self, obj: Obj) -> list[str]:
        return [obj.parent_id or "", obj.data.get("templateID") or ""]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            return
        template = ops.tx.get(obj.data.get("templateID"))
        if template is None or template.kind != "l2domaintemplate" or template.parent_id != obj.parent_id:
            raise invalid(
                "templateID",
                "An L2 domain is created by instantiating an L2 domain template of the same enterprise.",
            )
        for attr in ("DHCPManaged", "address", "netmask", "gateway", "IPType"):
            if template.data.get(attr) is not None:
                obj.data[attr] = template.data[attr]
        vni = ops.tx.allocate("vni")
        service_id = ops.tx.allocate("serviceID")
        obj.data.update(
            vnId=vni,
            serviceID=service_id,
            gatewayMACAddress=gateway_mac(vni),
            routeDistinguisher=obj.data.get("routeDistinguisher") or f"{ROUTE_ASN}:{service_id}",
            routeTarget=obj.data.get("routeTarget") or f"{ROUTE_ASN}:{service_id}",
        )

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        _instantiate_contents(ops, ops.tx.need(obj.data["templateID"], "l2domaintemplate"), obj)
