"""What the server does for each entity beyond storing it: validation that needs other objects,
allocations (VNIs, service IDs, policy-group tags, addresses), template instantiation, and the
bookkeeping between vports, interfaces, containers, VMs and floating IPs.

Each :class:`Behaviour` works through an :class:`Operations` (``service.py``) inside the caller's
transaction, so a multi-object operation commits whole or not at all.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from . import ipam, validation
from .errors import conflict, invalid
from .transaction import Obj, Reference

if TYPE_CHECKING:
    from .service import Operations

#: Attribute changes of a domain that disturb live endpoints: the client must confirm (300).
DISRUPTIVE_DOMAIN_ATTRS = (
    "tunnelType",
    "PATEnabled",
    "underlayEnabled",
    "maintenanceMode",
    "DHCPBehavior",
    "routeDistinguisher",
    "routeTarget",
    "encryption",
)
ROUTE_ASN = 65534


def gateway_mac(vni: int) -> str:
    """The anycast gateway MAC of a segment: the same on every host, unique per VNI."""
    return "0e:0c:" + ":".join(f"{b:02x}" for b in vni.to_bytes(4, "big"))


class Behaviour:
    """Defaults: an object belongs to its parent's enterprise and is listed under its ancestors."""

    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        if parent is None:
            return ops.principal.enterprise_id
        return parent.id if parent.kind == "enterprise" else parent.enterprise_id

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        """Validate the object as it would be stored and fill server-computed attributes."""

    def links(self, obj: Obj) -> list[str]:
        """IDs whose listings include this object (its ancestors follow transitively)."""
        return [obj.parent_id] if obj.parent_id else []

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        """Create dependent objects (template contents, interfaces)."""

    def after_update(self, ops: Operations, old: Obj, obj: Obj) -> None:
        """Keep related objects consistent after an update."""

    def confirm_update(self, ops: Operations, old: Obj, obj: Obj) -> str | None:
        """A question to confirm (answered 300) before applying the update, or None."""
        return None

    def confirm_delete(self, ops: Operations, obj: Obj) -> bool:
        """Whether deleting needs the client's confirmation (300): it takes other objects along."""
        return bool(ops.tx.children(obj.id))

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        """Refuse (409) a delete that would leave dangling references outside ``doomed``."""

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        """Undo side effects on objects that survive the delete."""

    def extra_doomed(self, ops: Operations, obj: Obj) -> list[Obj]:
        """Objects outside the ownership tree that go with this one."""
        return []


def _ipv4_only(obj: Obj) -> None:
    if obj.data.get("IPType", "IPV4") != "IPV4":
        raise invalid("IPType", "Only IPV4 networks are supported by this directory version.")


def _network(obj: Obj) -> ipaddress.IPv4Network:
    for attr in ("address", "netmask"):
        if not obj.data.get(attr):
            raise invalid(attr, "address and netmask go together; this value is mandatory.")
    return validation.ipv4_network(obj.data["address"], obj.data["netmask"])


def _check_prefix(obj: Obj, *, gateway_required: bool) -> ipaddress.IPv4Network:
    """Validate address/netmask/gateway; fill the gateway with the first host when absent."""
    _ipv4_only(obj)
    network = _network(obj)
    gateway = obj.data.get("gateway")
    if gateway:
        obj.data["gateway"] = validation.gateway_in(network, gateway)
    elif gateway_required:
        obj.data["gateway"] = validation.first_host(network)
    return network


def _reference_in_use(ops: Operations, obj: Obj, doomed: set[str]) -> None:
    for entry in ops.acl_entries_referencing(obj.id):
        if entry.id not in doomed:
            raise conflict(
                f"{obj.kind} '{obj.data.get('name')}' is used by ACL entry {entry.id} "
                f"('{entry.data.get('description') or ''}'); remove the entry first.",
                title="Object in use",
            )


class EnterpriseBehaviour(Behaviour):
    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        return obj.id

    def links(self, obj: Obj) -> list[str]:
        return []

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is None:
            obj.data["customerID"] = ops.tx.allocate("customerID")
            obj.data.setdefault("enterpriseType", "NORMAL")
            obj.data["floatingIPsUsed"] = 0

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        if obj.data.get("enterpriseType") == "CSP":
            raise conflict("The operator enterprise cannot be deleted.", title="Invalid operation")

    def extra_doomed(self, ops: Operations, obj: Obj) -> list[Obj]:
        # Containers and VMs live at the root; they belong to the enterprise of their vports.
        return ops.tx.select_kinds_in_enterprise(("container", "vm"), obj.id)


class UserBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        password = obj.data.pop("password", None)
        if password is not None:
            ops.set_password(obj, str(password))
        elif old is None:
            raise invalid("password", "This value is mandatory.")
        email = obj.data.get("email")
        if email and "@" not in email:
            raise invalid("email", f"'{email}' is not an e-mail address.")
        if obj.data.get("disabled") and old is not None and not old.data.get("disabled"):
            ops.revoke_keys(obj.id)  # a disabled user's sessions end now, not at their expiry

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        if obj.id == ops.principal.user_id:
            raise conflict("A user cannot delete itself.", title="Invalid operation")
        ops.forget_credentials(obj.id)


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
            _check_prefix(obj, gateway_required=False)


class SubnetTemplateBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        _check_prefix(obj, gateway_required=True)


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
            _check_prefix(obj, gateway_required=False)

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        _reference_in_use(ops, obj, doomed)


class SubnetBehaviour(Behaviour):
    def links(self, obj: Obj) -> list[str]:
        return [obj.parent_id or "", obj.data.get("templateID") or ""]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        network = _check_prefix(obj, gateway_required=True)
        zone = parent if parent is not None else ops.tx.need(obj.parent_id, "zone")
        domain_id = zone.parent_id
        for other in ops.tx.descendants(domain_id or "", "subnet"):
            if other.id != obj.id and _network(other).overlaps(network):
                raise conflict(
                    f"Subnet {network} overlaps subnet '{other.data.get('name')}' "
                    f"({_network(other)}) of the same domain.",
                    prop="address",
                    title="Invalid input",
                )
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
        _reference_in_use(ops, obj, doomed)


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


class PolicyGroupBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is None:
            assert parent is not None
            obj.data["policyGroupID"] = ops.tx.next_value(f"pgid:{parent.id}")

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        _reference_in_use(ops, obj, doomed)


class NetworkMacroBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        _ipv4_only(obj)
        _network(obj)

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        _reference_in_use(ops, obj, doomed)


class MacroGroupBehaviour(Behaviour):
    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        _reference_in_use(ops, obj, doomed)


class VPortBehaviour(Behaviour):
    def links(self, obj: Obj) -> list[str]:
        return [obj.parent_id or "", obj.data.get("associatedFloatingIPID") or ""]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is None:
            assert parent is not None
            if parent.kind == "subnet":
                zone = ops.tx.need(parent.parent_id, "zone")
                obj.data.update(domainID=zone.parent_id, zoneID=zone.id)
                obj.data["domainName"] = ops.tx.need(zone.parent_id, "domain").data.get("name")
            else:
                obj.data.update(domainID=parent.id, zoneID=None, domainName=parent.data.get("name"))
            obj.data.update(assocEntityID=parent.id, hasAttachedInterfaces=False)
        fip_id = obj.data.get("associatedFloatingIPID")
        if fip_id == "":
            obj.data["associatedFloatingIPID"] = fip_id = None
        if fip_id and (old is None or old.data.get("associatedFloatingIPID") != fip_id):
            fip = ops.need(fip_id, "floatingip", prop="associatedFloatingIPID")
            if fip.parent_id != obj.data.get("domainID"):
                raise invalid("associatedFloatingIPID", "The floating IP belongs to another domain.")
            if fip.data.get("assigned"):
                raise conflict(
                    f"Floating IP {fip.data.get('address')} is already assigned.",
                    prop="associatedFloatingIPID",
                )

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        self.after_update(ops, None, obj)

    def after_update(self, ops: Operations, old: Obj | None, obj: Obj) -> None:
        before = old.data.get("associatedFloatingIPID") if old else None
        after = obj.data.get("associatedFloatingIPID")
        if before == after:
            return
        if before:
            ops.set_fip_assignment(before, None)
        if after:
            ops.set_fip_assignment(after, obj)

    def confirm_delete(self, ops: Operations, obj: Obj) -> bool:
        return bool(obj.data.get("hasAttachedInterfaces"))

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        if obj.data.get("associatedFloatingIPID"):
            ops.set_fip_assignment(obj.data["associatedFloatingIPID"], None)

    def extra_doomed(self, ops: Operations, obj: Obj) -> list[Obj]:
        return ops.interfaces_of_vport(obj.id)


class AclTemplateBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        priority = obj.data.get("priority")
        if priority is not None and priority < 0:
            raise invalid("priority", "A policy priority is a non-negative integer.")
        if priority is None and old is None:
            assert parent is not None
            kind = obj.kind
            existing = [o.data.get("priority") or 0 for o in ops.tx.children(parent.id, kind)]
            obj.data["priority"] = (max(existing) + 1) if existing else 0


_LOCATION_KINDS = {
    "POLICYGROUP": ("policygroup", "POLICYGROUP", "policygrouptemplate", "POLICYGROUPTEMPLATE"),
    "ZONE": ("zone", "ZONE", "zonetemplate", "ZONETEMPLATE"),
    "SUBNET": ("subnet", "SUBNET", "subnettemplate", "SUBNETTEMPLATE"),
}
_ENTERPRISE_KINDS = {
    "ENTERPRISE_NETWORK": ("enterprisenetwork", "ENTERPRISENETWORK"),
    "NETWORK_MACRO_GROUP": ("networkmacrogroup", "NETWORKMACROGROUP"),
}
_NO_ID_NETWORKS = ("ANY", "ENDPOINT_DOMAIN", "ENDPOINT_ZONE", "ENDPOINT_SUBNET")


class AclEntryBehaviour(Behaviour):
    """Ingress/egress ACL entries: field syntax and references inside the same domain."""

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        d = obj.data
        acl = parent if parent is not None else ops.tx.need(obj.parent_id, obj.kind.replace("entry", ""))
        scope = ops.tx.need(acl.parent_id, ("domain", "l2domain", "domaintemplate", "l2domaintemplate"))
        is_template = scope.kind.endswith("template")
        d["etherType"] = validation.ether_type(d["etherType"])
        d["DSCP"] = validation.dscp(d["DSCP"])
        d["protocol"] = validation.protocol(d.get("protocol") or "ANY")
        ports_allowed = d["protocol"] in ("6", "17")
        for port_attr in ("sourcePort", "destinationPort"):
            if d.get(port_attr) is not None:
                d[port_attr] = validation.port_spec(port_attr, d[port_attr])
                if d[port_attr] != "*" and not ports_allowed:
                    raise invalid(port_attr, "Ports apply only to TCP (6) and UDP (17).")
            elif ports_allowed:
                d[port_attr] = "*"
        icmp_allowed = d["protocol"] in ("1", "58")
        for icmp_attr in ("ICMPType", "ICMPCode"):
            if d.get(icmp_attr) is not None:
                d[icmp_attr] = validation.icmp_field(icmp_attr, d[icmp_attr])
                if d[icmp_attr] != "*" and not icmp_allowed:
                    raise invalid(icmp_attr, "ICMP type and code apply only to ICMP (1, 58).")
        if d.get("protocol") != "ANY" and d["etherType"] not in ("0x0800", "0x86DD"):
            raise invalid("protocol", "An IP protocol needs an IP etherType (0x0800 or 0x86DD).")
        if d.get("priority") is not None and d["priority"] < 0:
            raise invalid("priority", "An entry priority is a non-negative integer.")
        self._location(ops, d, scope, is_template)
        self._network(ops, d, scope, is_template)
        if d.get("addressOverride"):
            validation.ipv4("addressOverride", d["addressOverride"].split("/")[0])
        siblings = [o for o in ops.tx.children(acl.id, obj.kind) if o.id != obj.id]
        if d.get("priority") is None:
            d["priority"] = max((o.data.get("priority") or 0 for o in siblings), default=0) + 1
        elif any(o.data.get("priority") == d["priority"] for o in siblings):
            raise conflict(
                f"Another entry of this policy already has priority {d['priority']}.",
                prop="priority",
                title="Invalid input",
            )
        domain = scope if scope.kind in ("domain", "l2domain") else None
        enterprise = ops.tx.get(scope.enterprise_id)
        d.update(
            ACLTemplateName=acl.data.get("name"),
            domainName=domain.data.get("name") if domain else None,
            enterpriseName=enterprise.data.get("name") if enterprise else None,
            policyState="LIVE",
        )
        if old is None:
            d["statsID"] = str(ops.tx.allocate("statsID"))

    @staticmethod
    def _location(ops: Operations, d: dict[str, Any], scope: Obj, is_template: bool) -> None:
        location = d["locationType"]
        if location == "ANY":
            d["locationID"] = None
            d["locationEntityType"] = None
            return
        if location not in _LOCATION_KINDS:
            raise invalid("locationType", f"locationType {location} is not supported.")
        kind, entity_type, tkind, tentity = _LOCATION_KINDS[location]
        if is_template:
            kind, entity_type = tkind, tentity
        if not d.get("locationID"):
            raise invalid("locationID", f"locationID is mandatory for locationType {location}.")
        target = ops.need(d["locationID"], kind, prop="locationID")
        if not ops.in_scope(target, scope):
            raise invalid("locationID", f"The {kind} {target.id} is not in this domain.")
        d["locationEntityType"] = entity_type

    @staticmethod
    def _network(ops: Operations, d: dict[str, Any], scope: Obj, is_template: bool) -> None:
        network = d["networkType"]
        if network in _NO_ID_NETWORKS:
            d["networkID"] = None
            d["networkEntityType"] = None
            return
        if not d.get("networkID"):
            raise invalid("networkID", f"networkID is mandatory for networkType {network}.")
        if network in _LOCATION_KINDS:
            kind, entity_type, tkind, tentity = _LOCATION_KINDS[network]
            if is_template:
                kind, entity_type = tkind, tentity
            target = ops.need(d["networkID"], kind, prop="networkID")
            if not ops.in_scope(target, scope):
                raise invalid("networkID", f"The {kind} {target.id} is not in this domain.")
        elif network in _ENTERPRISE_KINDS:
            kind, entity_type = _ENTERPRISE_KINDS[network]
            target = ops.need(d["networkID"], kind, prop="networkID")
            if target.parent_id != scope.enterprise_id:
                raise invalid("networkID", f"The {kind} {target.id} belongs to another enterprise.")
        else:
            raise invalid("networkType", f"networkType {network} is not supported.")
        d["networkEntityType"] = entity_type


class InterfaceBehaviour(Behaviour):
    """containerinterface / vminterface: bind a vport, take an address from its network."""

    vport_type = "CONTAINER"
    uuid_attr = "containerUUID"

    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        vport = ops.tx.get(obj.data.get("VPortID"))
        return vport.enterprise_id if vport else None

    def links(self, obj: Obj) -> list[str]:
        return [obj.parent_id or "", obj.data.get("VPortID") or ""]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        d = obj.data
        if old is not None:
            return
        validation.require(obj.entity, d)
        d["MAC"] = validation.mac("MAC", d["MAC"])
        vport = ops.need(d["VPortID"], "vport", prop="VPortID")
        if not ops.visible(vport):
            raise invalid("VPortID", f"vport with ID {vport.id} does not exist.")
        if vport.data.get("type") != self.vport_type:
            raise invalid(
                "VPortID",
                f"vport '{vport.data.get('name')}' is of type {vport.data.get('type')}; "
                f"a {obj.kind} needs a vport of type {self.vport_type}.",
            )
        if vport.data.get("hasAttachedInterfaces"):
            raise conflict(
                f"vport '{vport.data.get('name')}' already has an interface attached.",
                prop="VPortID",
            )
        network = ops.tx.need(vport.parent_id, ("subnet", "l2domain"))
        if not ops.tx.reserve_mac(network.id, d["MAC"], obj.id):
            raise conflict(f"MAC {d['MAC']} is already used in this network.", prop="MAC")
        if parent is not None:
            d[self.uuid_attr] = parent.data.get("UUID")
        d.update(
            VPortName=vport.data.get("name"),
            attachedNetworkID=network.id,
            attachedNetworkType="SUBNET" if network.kind == "subnet" else "L2DOMAIN",
            networkName=network.data.get("name"),
        )
        managed = network.kind == "subnet" or network.data.get("DHCPManaged")
        if managed and network.data.get("address"):
            prefix = ipam.network_of(network.data["address"], network.data["netmask"])
            reserved = set()
            if network.data.get("gateway"):
                reserved.add(ipam.address_value(network.data["gateway"]))
            d["IPAddress"] = ops.tx.allocate_address(
                network, prefix, obj.id, requested=d.get("IPAddress"), reserved=reserved
            )
            d["netmask"] = network.data["netmask"]
            d["gateway"] = network.data.get("gateway")
        elif d.get("IPAddress"):
            validation.ipv4("IPAddress", d["IPAddress"])
        if network.kind == "subnet":
            zone = ops.tx.need(network.parent_id, "zone")
            domain = ops.tx.need(zone.parent_id, "domain")
            d.update(zoneID=zone.id, zoneName=zone.data.get("name"))
        else:
            domain = network
        d.update(domainID=domain.id, domainName=domain.data.get("name"))

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        vport = ops.tx.need(obj.data["VPortID"], "vport")
        if not vport.data.get("hasAttachedInterfaces"):
            vport.data["hasAttachedInterfaces"] = True
            ops.touch(vport)
        if parent is not None and ops.refresh_endpoints:
            ops.refresh_endpoint(parent)

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        if obj.parent_id:
            ops.endpoints_to_refresh.add(obj.parent_id)
        vport = ops.tx.get(obj.data.get("VPortID"))
        if vport is not None and vport.data.get("hasAttachedInterfaces"):
            vport.data["hasAttachedInterfaces"] = False
            ops.touch(vport)


class VMInterfaceBehaviour(InterfaceBehaviour):
    vport_type = "VM"
    uuid_attr = "VMUUID"


class EndpointBehaviour(Behaviour):
    """container / vm: created at the root with their interfaces in one request."""

    interface_kind = "containerinterface"

    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        enterprises = set()
        for item in obj.data.get("interfaces") or []:
            vport = ops.tx.get(item.get("VPortID")) if isinstance(item, dict) else None
            if vport is not None:
                enterprises.add(vport.enterprise_id)
        if len(enterprises) > 1:
            raise invalid("interfaces", "All interfaces must attach to vports of one enterprise.")
        return enterprises.pop() if enterprises else ops.principal.enterprise_id

    def links(self, obj: Obj) -> list[str]:
        vports = [i.get("VPortID") or "" for i in obj.data.get("interfaces") or []]
        # Its vports' domains, zones and subnets list it through the vports' rows; its
        # enterprise lists it (with interfaces or not), and so do the user who created it and
        # the host it runs on once bound (/vrss/{id}/containers) — by reference: the user's
        # enterprise is not the container's when csproot creates it for a tenant (and see
        # schema.LEAF_ANCHORS: a container keeps rows for its vports and these three only).
        return [
            *vports,
            Reference(obj.enterprise_id or ""),
            Reference(obj.data.get("userID") or ""),
            Reference(obj.data.get("VRSID") or ""),
        ]

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            return
        interfaces = obj.data.get("interfaces") or []
        if not all(isinstance(i, dict) for i in interfaces):
            raise invalid("interfaces", "interfaces is a list of interface objects.")
        vports = [i.get("VPortID") for i in interfaces]
        if len(set(vports)) != len(vports):
            raise invalid("interfaces", "Two interfaces name the same vport.")
        enterprise = ops.tx.get(obj.enterprise_id)
        obj.data.update(
            enterpriseID=obj.enterprise_id,
            enterpriseName=enterprise.data.get("name") if enterprise else None,
            userID=ops.principal.user_id,
            userName=ops.principal.user_name,
        )

    def confirm_delete(self, ops: Operations, obj: Obj) -> bool:
        return False  # an endpoint goes with its own interfaces, nothing else

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        requested = obj.data.get("interfaces") or []
        created = []
        for index, item in enumerate(requested):
            try:
                created.append(ops.create_internal(obj, self.interface_kind, item, refresh=False))
            except Exception as exc:
                prop = getattr(exc, "property", None)
                if prop:
                    exc.property = f"interfaces[{index}].{prop}"  # type: ignore[attr-defined]
                raise
        ops.refresh_endpoint(obj, record=False, interfaces=created)


class VMBehaviour(EndpointBehaviour):
    interface_kind = "vminterface"


class SharedResourceBehaviour(Behaviour):
    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        return None

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        _check_prefix(obj, gateway_required=True)
        if old is None:
            vni = ops.tx.allocate("vni")
            obj.data.update(vnID=vni, gatewayMACAddress=gateway_mac(vni))

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        users = ops.tx.find("floatingip", "associatedSharedNetworkResourceID", obj.id)
        if users:
            raise conflict(
                f"{len(users)} floating IP(s) are allocated from '{obj.data.get('name')}'.",
                title="Object in use",
            )


class FloatingIPBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            return
        pool = ops.need(
            obj.data["associatedSharedNetworkResourceID"],
            "sharednetworkresource",
            prop="associatedSharedNetworkResourceID",
        )
        if pool.data.get("type") != "FLOATING":
            raise invalid(
                "associatedSharedNetworkResourceID",
                f"Shared resource '{pool.data.get('name')}' is of type {pool.data.get('type')}, "
                "not FLOATING.",
            )
        enterprise = ops.tx.get(obj.enterprise_id)
        quota = enterprise.data.get("floatingIPsQuota") if enterprise else None
        used = enterprise.data.get("floatingIPsUsed") or 0 if enterprise else 0
        if enterprise is not None and quota is not None and used >= quota:
            raise conflict(
                f"Enterprise '{enterprise.data.get('name')}' has used its {quota} floating IPs.",
                title="Quota exceeded",
            )
        prefix = ipam.network_of(pool.data["address"], pool.data["netmask"])
        reserved = {ipam.address_value(pool.data["gateway"])} if pool.data.get("gateway") else set()
        obj.data["address"] = ops.tx.allocate_address(
            pool, prefix, obj.id, requested=obj.data.get("address"), reserved=reserved
        )
        obj.data.update(assigned=False, assignedToObjectType=None)
        if enterprise is not None:
            enterprise.data["floatingIPsUsed"] = used + 1
            ops.touch(enterprise)

    def confirm_delete(self, ops: Operations, obj: Obj) -> bool:
        return bool(obj.data.get("assigned"))

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        for vport in ops.tx.descendants(obj.id, "vport"):
            if vport.data.get("associatedFloatingIPID") == obj.id:
                vport.data["associatedFloatingIPID"] = None
                ops.touch(vport, relink=True)
        enterprise = ops.tx.get(obj.enterprise_id)
        if enterprise is not None and enterprise.data.get("floatingIPsUsed"):
            enterprise.data["floatingIPsUsed"] -= 1
            ops.touch(enterprise)


_TEMPLATE = TemplateBehaviour()
_ACL_TEMPLATE = AclTemplateBehaviour()
_ACL_ENTRY = AclEntryBehaviour()

BEHAVIOURS: dict[str, Behaviour] = {
    "enterprise": EnterpriseBehaviour(),
    "user": UserBehaviour(),
    "domaintemplate": _TEMPLATE,
    "l2domaintemplate": L2DomainTemplateBehaviour(),
    "subnettemplate": SubnetTemplateBehaviour(),
    "domain": DomainBehaviour(),
    "l2domain": L2DomainBehaviour(),
    "zone": ZoneBehaviour(),
    "subnet": SubnetBehaviour(),
    "policygroup": PolicyGroupBehaviour(),
    "enterprisenetwork": NetworkMacroBehaviour(),
    "networkmacrogroup": MacroGroupBehaviour(),
    "vport": VPortBehaviour(),
    "ingressacltemplate": _ACL_TEMPLATE,
    "egressacltemplate": _ACL_TEMPLATE,
    "ingressaclentrytemplate": _ACL_ENTRY,
    "egressaclentrytemplate": _ACL_ENTRY,
    "containerinterface": InterfaceBehaviour(),
    "vminterface": VMInterfaceBehaviour(),
    "container": EndpointBehaviour(),
    "vm": VMBehaviour(),
    "sharednetworkresource": SharedResourceBehaviour(),
    "floatingip": FloatingIPBehaviour(),
}

DEFAULT_BEHAVIOUR = Behaviour()


def behaviour(kind: str) -> Behaviour:
    return BEHAVIOURS.get(kind, DEFAULT_BEHAVIOUR)
