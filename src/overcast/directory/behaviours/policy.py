"""Policy: policy groups, network macros and macro groups, ACL templates and their entries
(locations and networks checked against the domain)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import validation
from ..errors import conflict, invalid
from ..objects import Obj
from .base import Behaviour, ipv4_only, network_of, reference_in_use
from .jobs import check_live_edit, drafting

if TYPE_CHECKING:
    from ..operations import Operations


class PolicyGroupBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is None:
            assert parent is not None
            obj.data["policyGroupID"] = ops.tx.next_value(f"pgid:{parent.id}")

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        reference_in_use(ops, obj, doomed)


class NetworkMacroBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        ipv4_only(obj)
        network_of(obj)

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        reference_in_use(ops, obj, doomed)


class MacroGroupBehaviour(Behaviour):
    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        reference_in_use(ops, obj, doomed)


class AclTemplateBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            check_live_edit(ops, old, "change")
        elif drafting(parent) and not (ops.publishing or ops.reconciling):
            obj.data["policyState"] = "DRAFT"  # created while a policy change is open: a draft
        priority = obj.data.get("priority")
        if priority is not None and priority < 0:
            raise invalid("priority", "A policy priority is a non-negative integer.")
        if priority is None and old is None:
            assert parent is not None
            kind = obj.kind
            existing = [o.data.get("priority") or 0 for o in ops.tx.children(parent.id, kind)]
            obj.data["priority"] = (max(existing) + 1) if existing else 0

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        if obj.parent_id not in doomed:
            check_live_edit(ops, obj, "delete")


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

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        acl = ops.tx.get(obj.parent_id) if obj.parent_id else None
        if acl is not None and acl.id not in doomed:
            check_live_edit(ops, acl, "delete entries of")

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        d = obj.data
        acl = parent if parent is not None else ops.tx.need(obj.parent_id, obj.kind.replace("entry", ""))
        check_live_edit(ops, acl, "add entries to" if old is None else "change the entry in")
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
        self.network_of(ops, d, scope, is_template)
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
            policyState=acl.data.get("policyState") or "LIVE",
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
    def network_of(ops: Operations, d: dict[str, Any], scope: Obj, is_template: bool) -> None:
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


class CompliancePolicyBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        from ..compliance import check_text

        check_text(obj.data.get("text") or "")
