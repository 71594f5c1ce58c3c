"""Endpoints: vports, container and VM interfaces (addresses allocated), containers and VMs,
shared network resources and floating IPs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import ipam, validation
from ..errors import conflict, invalid
from ..objects import Obj, Reference
from .base import Behaviour, check_prefix, gateway_mac

if TYPE_CHECKING:
    from ..operations import Operations


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


#: What ``attachedNetworkType`` names, for split activation.
_NETWORK_KINDS = {"SUBNET": "subnet", "L2DOMAIN": "l2domain"}


def split_activated(item: Any) -> bool:
    """An interface naming its network (``attachedNetworkID``) instead of a vport: the directory
    creates the vport (VSD's split activation, as orchestrators create VMs)."""
    return isinstance(item, dict) and not item.get("VPortID") and bool(item.get("attachedNetworkID"))


def _auto_vport_mark(endpoint_id: str) -> str:
    """The ``externalID`` of a vport the directory created for an endpoint (deleted with it)."""
    return f"overcast:endpoint:{endpoint_id}"


class EndpointBehaviour(Behaviour):
    """container / vm: created at the root with their interfaces in one request. An interface
    names its vport (``VPortID``), or its network (``attachedNetworkID`` and
    ``attachedNetworkType``, optionally ``IPAddress``): the directory then creates a vport for it
    in that network (split activation), deleted with the endpoint."""

    interface_kind = "containerinterface"

    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        enterprises = set()
        for item in obj.data.get("interfaces") or []:
            if split_activated(item):
                network = ops.tx.get(item.get("attachedNetworkID"))
                if network is not None:
                    enterprises.add(network.enterprise_id)
                continue
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
        for index, item in enumerate(interfaces):
            if split_activated(item):
                kind = _NETWORK_KINDS.get(item.get("attachedNetworkType") or "SUBNET")
                if kind is None:
                    raise invalid(
                        f"interfaces[{index}].attachedNetworkType",
                        "attachedNetworkType is SUBNET or L2DOMAIN.",
                    )
                ops.need(item["attachedNetworkID"], kind, prop=f"interfaces[{index}].attachedNetworkID")
                if not item.get("MAC"):
                    raise invalid(f"interfaces[{index}].MAC", "An interface needs its MAC address.")
            elif not isinstance(item, dict) or not item.get("VPortID"):
                raise invalid(
                    f"interfaces[{index}]",
                    "An interface names its vport (VPortID) or its network (attachedNetworkID).",
                )
        vports = [i["VPortID"] for i in interfaces if i.get("VPortID")]
        if len(set(vports)) != len(vports):
            raise invalid("interfaces", "Two interfaces name the same vport.")
        macs = [str(i.get("MAC") or "").lower() for i in interfaces if i.get("MAC")]
        if len(set(macs)) != len(macs):
            raise invalid("interfaces", "Two interfaces have the same MAC address.")
        enterprise = ops.tx.get(obj.enterprise_id)
        obj.data.update(
            enterpriseID=obj.enterprise_id,
            enterpriseName=enterprise.data.get("name") if enterprise else None,
            userID=ops.principal.user_id,
            userName=ops.principal.user_name,
        )

    def confirm_delete(self, ops: Operations, obj: Obj) -> bool:
        return False  # an endpoint goes with its own interfaces, nothing else

    def extra_doomed(self, ops: Operations, obj: Obj) -> list[Obj]:
        """The vports made for its interfaces (found through them: key lookups, never a scan
        of every vport on the hot path of a runtime's delete)."""
        mark = _auto_vport_mark(obj.id)
        vports = (ops.tx.get(i.data.get("VPortID")) for i in ops.tx.children(obj.id, self.interface_kind))
        return [v for v in vports if v is not None and v.data.get("externalID") == mark]

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        requested = obj.data.get("interfaces") or []
        created = []
        for index, item in enumerate(requested):
            try:
                if split_activated(item):
                    network = ops.tx.get(item["attachedNetworkID"])
                    vport = ops.create_internal(
                        network,
                        "vport",
                        {
                            "name": f"{obj.data.get('name')}-{str(item['MAC']).lower().replace(':', '')}",
                            "type": "VM" if obj.kind == "vm" else "CONTAINER",
                            "addressSpoofing": "INHERITED",
                            "externalID": _auto_vport_mark(obj.id),
                            "description": f"created for {obj.kind} {obj.data.get('name')}",
                        },
                    )
                    item = {
                        k: v for k, v in item.items() if k not in ("attachedNetworkID", "attachedNetworkType")
                    }
                    item["VPortID"] = vport.id
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
        check_prefix(obj, gateway_required=True)
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


class EnterprisePermissionBehaviour(Behaviour):
    """A shared resource made available to one enterprise (operator only; tenants never see
    which others may use it)."""

    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        return None

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            return
        enterprise = ops.need(obj.data.get("permittedEntityID"), "enterprise", prop="permittedEntityID")
        obj.data.update(
            permittedEntityName=enterprise.data.get("name"),
            permittedEntityType="enterprise",
            permittedEntityDescription=enterprise.data.get("description"),
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
        permitted = {
            p.data.get("permittedEntityID") for p in ops.tx.children(pool.id, "enterprisepermission")
        }
        if permitted and obj.enterprise_id not in permitted:
            raise conflict(
                f"Shared resource '{pool.data.get('name')}' is not available to this enterprise.",
                prop="associatedSharedNetworkResourceID",
                title="Not permitted",
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
