"""What every entity behaviour shares: the hooks a behaviour may fill, and the network checks
several use."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from .. import validation
from ..errors import conflict, invalid
from ..objects import Obj

if TYPE_CHECKING:
    from ..operations import Operations


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


def ipv4_only(obj: Obj) -> None:
    if obj.data.get("IPType", "IPV4") != "IPV4":
        raise invalid("IPType", "Only IPV4 networks are supported by this directory version.")


def network_of(obj: Obj) -> ipaddress.IPv4Network:
    for attr in ("address", "netmask"):
        if not obj.data.get(attr):
            raise invalid(attr, "address and netmask go together; this value is mandatory.")
    return validation.ipv4_network(obj.data["address"], obj.data["netmask"])


def check_prefix(obj: Obj, *, gateway_required: bool) -> ipaddress.IPv4Network:
    """Validate address/netmask/gateway; fill the gateway with the first host when absent."""
    ipv4_only(obj)
    network = network_of(obj)
    gateway = obj.data.get("gateway")
    if gateway:
        obj.data["gateway"] = validation.gateway_in(network, gateway)
    elif gateway_required:
        obj.data["gateway"] = validation.first_host(network)
    return network


def reference_in_use(ops: Operations, obj: Obj, doomed: set[str]) -> None:
    for entry in ops.acl_entries_referencing(obj.id):
        if entry.id not in doomed:
            raise conflict(
                f"{obj.kind} '{obj.data.get('name')}' is used by ACL entry {entry.id} "
                f"('{entry.data.get('description') or ''}'); remove the entry first.",
                title="Object in use",
            )
