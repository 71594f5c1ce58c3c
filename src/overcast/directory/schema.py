"""The entities the directory serves: names, attributes and how they relate.

Attribute names, types and enum choices come from the vspk model (``vsd_model_v6.json``, a
trimmed copy of ``shared/reference/vsd-model-v6.json``); what the SDK cannot say — which parent
owns an object, which attributes the server computes, what is mandatory in practice, where a
name must be unique — is stated here, once, per entity.

Relations between a parent and a child resource come in three kinds:

* ``owner``: the child is created under that parent (``POST /zones/{id}/subnets``);
* ``descendant``: a read-only listing of every object of that type below the parent, directly
  or through links such as container → interface → vport (``GET /domains/{id}/vports``);
* ``member``: an association replaced wholesale with ``PUT`` (``/policygroups/{id}/vports``),
  served in both directions from one association table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Literal

ROOT = "me"

#: Attributes every object carries, all server-maintained (vsd-api.md §8).
IDENTITY_ATTRS = frozenset(
    {
        "ID",
        "parentID",
        "parentType",
        "owner",
        "lastUpdatedBy",
        "creationDate",
        "lastUpdatedDate",
        "entityScope",
        "embeddedMetadata",
    }
)


#: The longest name or unique key (the indexed columns' width, and VSD's database's): longer
#: values are refused, never truncated (two long names would collide, exact filters miss).
NAME_LIMIT = 255


@dataclass(frozen=True)
class Attr:
    name: str
    type: str  # str | int | bool | float | list | dict
    choices: tuple[str, ...] | None


@dataclass(frozen=True)
class Entity:
    """How one VSD entity behaves in the directory."""

    rest_name: str
    resource: str
    attrs: dict[str, Attr]
    #: Parents an object is created under (``me`` = the root collection).
    owners: tuple[str, ...]
    #: Attributes the server computes; values sent by clients are ignored.
    readonly: frozenset[str] = frozenset()
    #: Attributes that must be present (non-null) once defaults are applied.
    required: tuple[str, ...] = ()
    #: Attributes taken but never stored or returned (a user's password): required on create
    #: only — an update that leaves them out keeps what was set (vspk's ``save()`` sends null).
    write_only: frozenset[str] = frozenset()
    #: Attributes that may be given on create but never changed afterwards.
    immutable: frozenset[str] = frozenset()
    #: Server defaults applied on create when the client sends nothing.
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Where ``name`` (or ``unique_attr``) must be unique: the parent, the enterprise, or everywhere.
    unique_scope: Literal["parent", "enterprise", "global"] | None = "parent"
    unique_attr: str = "name"
    #: Uniqueness ignores case (enterprise names: logins match the organization that way).
    unique_ignores_case: bool = False
    #: Listed by every user (read) but written by csproot only (entityScope GLOBAL).
    global_scope: bool = False
    #: Only csproot may create or delete these.
    operator_only: bool = False
    #: Written only by the system itself (the controller records hosts): read-only over the API.
    server_managed: bool = False

    def unique_key(self, value: Any) -> str:
        """What must be unique in the scope, as stored in the indexed ``ukey`` column."""
        key = str(value)[:NAME_LIMIT]
        return key.lower() if self.unique_ignores_case else key

    def writable(self, attr: str) -> bool:
        return attr in self.attrs and attr not in self.readonly and attr not in IDENTITY_ATTRS


@dataclass(frozen=True)
class Relation:
    """How a child resource hangs off a parent.

    ``reference``: the object the parent names in attribute ``via`` (a domain's template).
    ``applicable``: the ACL entries that govern a vport (its domain's active policies whose
    location is ANY, one of its policy groups, its zone or its subnet).
    """

    parent: str
    child: str
    kind: Literal["owner", "descendant", "member", "root", "reference", "applicable"]
    via: str | None = None


def _load_model() -> dict[str, Any]:
    """VSD's entities, and Overcast's own in the same form (``overcast_model.json``: the
    application designer's, named so they clash with no v6 name)."""
    files = resources.files("overcast.directory")
    model: dict[str, Any] = json.loads(files.joinpath("vsd_model_v6.json").read_text())
    model.update(json.loads(files.joinpath("overcast_model.json").read_text()))
    return model


#: Containers and VMs: created at the root with their interfaces.
_ENDPOINT_RULES: dict[str, Any] = dict(
    owners=(ROOT,),
    readonly={
        "enterpriseID",
        "enterpriseName",
        "userID",
        "userName",
        "domainIDs",
        "zoneIDs",
        "subnetIDs",
        "l2DomainIDs",
        "VRSID",
        "hypervisorIP",
        "vrsRawVersion",
        "vrsVersion",
    },
    required=("name", "UUID"),
    immutable={"UUID", "interfaces"},
    unique_scope="global",
    unique_attr="UUID",
    defaults={"status": "INIT"},
)


def _interface_rules(endpoint_uuid_attr: str) -> dict[str, Any]:
    """Container and VM interfaces differ only in the attribute naming their endpoint."""
    return dict(
        owners=("container",) if endpoint_uuid_attr == "containerUUID" else ("vm",),
        readonly={
            "VPortName",
            "attachedNetworkID",
            "attachedNetworkType",
            "netmask",
            "gateway",
            "domainID",
            "domainName",
            "zoneID",
            "zoneName",
            endpoint_uuid_attr,
            "networkName",
            "IPv6Gateway",
        },
        required=("MAC", "VPortID"),
        immutable={"MAC", "VPortID", "IPAddress"},
        unique_scope=None,
    )


#: Ingress and egress ACL entries share their rules (location = local side, network = remote).
_ACL_ENTRY_RULES: dict[str, Any] = dict(
    readonly={
        "locationEntityType",
        "networkEntityType",
        "ACLTemplateName",
        "domainName",
        "enterpriseName",
        "statsID",
        "policyState",
        "associatedLiveEntityID",
        "associatedLiveTemplateID",
    },
    required=("action", "etherType", "DSCP", "locationType", "networkType"),
    unique_scope=None,
    defaults={
        "action": "FORWARD",
        "etherType": "0x0800",
        "DSCP": "*",
        "locationType": "ANY",
        "networkType": "ANY",
        "protocol": "ANY",
        "stateful": False,
        "policyState": "LIVE",
    },
)

_ENTITY_RULES: dict[str, dict[str, Any]] = {
    "enterprise": dict(
        owners=(ROOT,),
        readonly={"customerID", "enterpriseType", "floatingIPsUsed", "sharedEnterprise"},
        required=("name",),
        unique_scope="global",
        unique_ignores_case=True,
        operator_only=True,
        defaults={"floatingIPsQuota": 16, "DHCPLeaseInterval": 24},
    ),
    "user": dict(
        owners=("enterprise",),
        readonly={"APIKey", "APIKeyExpiry"},
        required=("userName", "password"),
        write_only={"password"},
        unique_scope="enterprise",
        unique_attr="userName",
        immutable={"userName"},
        defaults={"disabled": False},
    ),
    "domaintemplate": dict(owners=("enterprise",), required=("name",), readonly={"policyChangeStatus"}),
    "zonetemplate": dict(owners=("domaintemplate",), required=("name",)),
    "subnettemplate": dict(
        owners=("zonetemplate", "domaintemplate"),
        required=("name", "address", "netmask"),
        defaults={"IPType": "IPV4"},
    ),
    "policygrouptemplate": dict(
        owners=("domaintemplate", "l2domaintemplate"),
        required=("name", "type"),
        defaults={"type": "SOFTWARE"},
    ),
    "domain": dict(
        owners=("enterprise",),
        readonly={
            "enterpriseID",
            "serviceID",
            "labelID",
            "domainID",
            "backHaulVNID",
            "backHaulServiceID",
            "customerID",
            "policyChangeStatus",
        },
        required=("name", "templateID"),
        immutable={"templateID"},
        unique_scope="parent",
        defaults={
            "tunnelType": "DC_DEFAULT",
            "DHCPBehavior": "CONSUME",
            "PATEnabled": "DISABLED",
            "maintenanceMode": "DISABLED",
            "underlayEnabled": "DISABLED",
        },
    ),
    "zone": dict(
        owners=("domain",),
        readonly={"policyGroupID", "numberOfHostsInSubnets"},
        required=("name",),
        defaults={"maintenanceMode": "DISABLED", "multicast": "INHERITED", "IPType": "IPV4"},
    ),
    "subnet": dict(
        owners=("zone",),
        readonly={
            "vnId",
            "serviceID",
            "policyGroupID",
            "gatewayMACAddress",
            "entityState",
            "domainServiceLabel",
        },
        required=("name", "address", "netmask"),
        immutable={"templateID"},
        defaults={
            "IPType": "IPV4",
            "PATEnabled": "INHERITED",
            "maintenanceMode": "DISABLED",
            "multicast": "INHERITED",
            "l2EncapType": "VXLAN",
            "enableDHCPv4": True,
        },
    ),
    "vport": dict(
        owners=("subnet", "l2domain"),
        readonly={"domainID", "zoneID", "assocEntityID", "hasAttachedInterfaces", "domainName"},
        required=("name", "type", "addressSpoofing"),
        immutable={"type"},
        defaults={
            "type": "VM",
            "addressSpoofing": "INHERITED",
            "operationalState": "INIT",
            "multicast": "INHERITED",
            "active": True,
        },
    ),
    "policygroup": dict(
        owners=("domain", "l2domain"),
        readonly={"policyGroupID", "entityState"},
        required=("name", "type"),
        defaults={"type": "SOFTWARE", "external": False},
    ),
    "ingressacltemplate": dict(
        owners=("domain", "domaintemplate", "l2domain", "l2domaintemplate"),
        readonly={"policyState", "associatedLiveEntityID"},
        required=("name",),
        defaults={
            "active": False,
            "defaultAllowIP": False,
            "defaultAllowNonIP": False,
            "priorityType": "NONE",
            "policyState": "LIVE",
            "allowAddressSpoof": False,
        },
    ),
    "egressacltemplate": dict(
        owners=("domain", "domaintemplate", "l2domain", "l2domaintemplate"),
        readonly={"policyState", "associatedLiveEntityID"},
        required=("name",),
        defaults={
            "active": False,
            "defaultAllowIP": False,
            "defaultAllowNonIP": False,
            "defaultInstallACLImplicitRules": True,
            "priorityType": "NONE",
            "policyState": "LIVE",
        },
    ),
    "ingressaclentrytemplate": _ACL_ENTRY_RULES,
    "egressaclentrytemplate": _ACL_ENTRY_RULES,
    "enterprisenetwork": dict(
        owners=("enterprise",),
        required=("name", "address", "netmask"),
        unique_scope="parent",
        defaults={"IPType": "IPV4"},
    ),
    "networkmacrogroup": dict(owners=("enterprise",), required=("name",)),
    "container": _ENDPOINT_RULES,
    "vm": _ENDPOINT_RULES,
    "containerinterface": _interface_rules("containerUUID"),
    "vminterface": _interface_rules("VMUUID"),
    "sharednetworkresource": dict(
        owners=(ROOT,),
        readonly={"vnID", "gatewayMACAddress", "enterpriseID"},
        required=("name", "type", "address", "netmask"),
        immutable={"address", "netmask", "type"},
        unique_scope="global",
        global_scope=True,
        operator_only=True,
        defaults={"type": "PUBLIC", "DHCPManaged": True},
    ),
    # Which enterprises may use a shared resource (a floating-IP pool): none = every one.
    "enterprisepermission": dict(
        owners=("sharednetworkresource",),
        readonly={"permittedEntityName", "permittedEntityType", "permittedEntityDescription"},
        required=("permittedEntityID",),
        immutable={"permittedEntityID"},
        unique_scope="parent",
        unique_attr="permittedEntityID",
        operator_only=True,
        defaults={"permittedAction": "USE"},
    ),
    "statisticspolicy": dict(
        owners=("domain", "zone", "subnet", "vport", "l2domain"),
        required=("name", "dataCollectionFrequency"),
    ),
    "floatingip": dict(
        owners=("domain",),
        readonly={"assigned", "assignedToObjectType", "assignedToObjectID"},
        required=("associatedSharedNetworkResourceID",),
        immutable={"associatedSharedNetworkResourceID", "address"},
        unique_scope=None,
        defaults={"assigned": False, "accessControl": False, "isSecondaryFIP": False},
    ),
    "l2domaintemplate": dict(
        owners=("enterprise",),
        required=("name",),
        defaults={"DHCPManaged": False, "IPType": "IPV4"},
    ),
    "l2domain": dict(
        owners=("enterprise",),
        readonly={
            "vnId",
            "serviceID",
            "gatewayMACAddress",
            "DHCPManaged",
            "address",
            "netmask",
            "IPType",
            "entityState",
        },
        required=("name", "templateID"),
        immutable={"templateID"},
        defaults={"maintenanceMode": "DISABLED", "l2EncapType": "VXLAN"},
    ),
    # The application designer (overcast.appd): services, applications with their tiers and
    # flows, and a flow's security policies. An application generates ordinary domain objects.
    "appdservice": dict(
        owners=("enterprise",),
        required=("name", "etherType", "protocol", "direction", "DSCP"),
        defaults={
            "etherType": "0x0800",
            "sourcePort": "*",
            "destinationPort": "*",
            "direction": "REFLEXIVE",
            "DSCP": "*",
        },
    ),  # fmt: skip
    "appdapplication": dict(
        owners=("enterprise",),
        readonly={
            "associatedZoneID",
            "assocIngressACLTemplateId",
            "assocEgressACLTemplateId",
            "generatedObjects",
        },
        required=("name", "associatedDomainID", "associatedDomainType"),
        immutable={"associatedDomainID", "associatedDomainType", "templateID"},
        defaults={"associatedDomainType": "DOMAIN"},
    ),
    # An application designed once and instantiated many times (appdapplication.templateID).
    "appdapplicationtemplate": dict(owners=("enterprise",), required=("name",), readonly={"instances"}),
    "appdtier": dict(
        owners=("appdapplication", "appdapplicationtemplate"),
        readonly={"associatedObjectID", "associatedObjectType"},
        required=("name", "type"),
        immutable={"type"},
        defaults={"type": "STANDARD"},
    ),
    "appdflow": dict(
        owners=("appdapplication", "appdapplicationtemplate"),
        required=("name", "originTierID", "destinationTierID"),
        immutable={"originTierID", "destinationTierID"},
    ),
    "appdflowsecuritypolicy": dict(
        owners=("appdflow",),
        required=("action", "associatedApplicationServiceID"),
        unique_scope=None,
        defaults={"action": "FORWARD"},
    ),
    # Compliance: policies of sentences (an enterprise's, or the operator's for every
    # enterprise) and the violations the directory finds, kept up to date with every write.
    "compliancepolicy": dict(
        owners=("enterprise", ROOT),
        readonly={"violationCount", "warnings"},
        required=("name", "text", "mode"),
        defaults={"mode": "MONITOR", "violationCount": 0},
    ),
    "complianceviolation": dict(
        owners=("compliancepolicy",),
        required=("key", "sentence"),
        unique_scope=None,
        server_managed=True,
    ),
    # A job run on its parent when created (behaviours/jobs.py: policy changes, VSD's draft mode).
    "job": dict(
        owners=("domain", "domaintemplate"),
        readonly={"status", "result", "progress", "assocEntityType"},
        required=("command",),
        unique_scope=None,
        immutable={"command", "parameters"},
    ),
    # An `overcast gateway` (VSD's VRS-G), recorded by itself: its BGP sessions in `peer`.
    "gateway": dict(
        owners=(ROOT,),
        required=("name",),
        unique_scope="global",
        operator_only=True,
        server_managed=True,
        defaults={"personality": "VRSG", "pending": False, "gatewayConnected": False},
    ),
    # A host running an agent, recorded by the controller (VSD's VRS): name = the agent's host ID.
    "vrs": dict(
        owners=(ROOT,),
        required=("name", "address"),
        unique_scope="global",
        operator_only=True,
        server_managed=True,
        defaults={"status": "DOWN", "personality": "VRS", "hypervisorType": "CONTAINER"},
    ),
}

#: Read-only listings of descendants reached through the scope links (see ``scopes``).
_DESCENDANT_LISTINGS: dict[str, tuple[str, ...]] = {
    "enterprise": ("containers", "vms"),
    "user": ("containers", "vms"),
    "domaintemplate": ("domains",),
    "l2domaintemplate": ("l2domains",),
    "subnettemplate": ("subnets",),
    "domain": (
        "subnets",
        "vports",
        "containers",
        "containerinterfaces",
        "vms",
        "vminterfaces",
        "ingressaclentrytemplates",
        "egressaclentrytemplates",
        "floatingips",
    ),
    "zone": ("vports", "containers", "containerinterfaces", "vms", "vminterfaces"),
    "subnet": ("containers", "containerinterfaces", "vms", "vminterfaces"),
    "l2domain": (
        "containers",
        "containerinterfaces",
        "vms",
        "vminterfaces",
        "ingressaclentrytemplates",
        "egressaclentrytemplates",
    ),
    "vport": ("containers", "containerinterfaces", "vms", "vminterfaces"),
    "floatingip": ("vports",),
    "vrs": ("containers", "vms"),
}

#: Kinds whose closure no object inherits (nothing links to them, or only other leaves), and
#: the ancestor kind each keeps scope rows for: its anchor (the vports an interface binds, or a
#: container's or VM's interfaces bind). A listing of a leaf by an ancestor of the anchor (its
#: domain, zone, subnet, L2 domain) goes through the anchor's own rows — two index probes
#: instead of one, for four or five rows fewer per object than the full closure. Besides its
#: anchors, a leaf keeps a row for each link given as a reference (``transaction.Reference``):
#: the kinds in :data:`LEAF_DIRECT` list it by that row. Any other kind keeps every ancestor:
#: its rows are the source of the closures of objects linking to it.
LEAF_ANCHORS: dict[str, str] = {
    "containerinterface": "vport",
    "vminterface": "vport",
    "container": "vport",
    "vm": "vport",
}

#: Listings of a leaf by a row of its own (a reference link), not through its anchor.
LEAF_DIRECT: dict[str, frozenset[str]] = {
    "container": frozenset({"enterprise", "user", "vrs"}),
    "vm": frozenset({"enterprise", "user", "vrs"}),
}

#: Listings of an object the parent refers to: (parent, resource) -> attribute of the parent.
_REFERENCE_LISTINGS = {
    ("domain", "domaintemplates"): "templateID",
    ("l2domain", "l2domaintemplates"): "templateID",
}

#: The ACL entries that apply to a vport (read-only, computed).
_APPLICABLE_LISTINGS = (("vport", "ingressaclentrytemplates"), ("vport", "egressaclentrytemplates"))

#: Association tables (member relations): relation name -> (parent, child).
MEMBER_RELATIONS: dict[str, tuple[str, str]] = {
    "policygroup.vport": ("policygroup", "vport"),
    "networkmacrogroup.enterprisenetwork": ("networkmacrogroup", "enterprisenetwork"),
}

#: Root collections (``GET /<resource>``) beyond the entities created at the root.
_ROOT_LISTINGS = (
    "enterprises",
    "users",
    "domains",
    "zones",
    "subnets",
    "policygroups",
    "ingressacltemplates",
    "egressacltemplates",
    "ingressaclentrytemplates",
    "egressaclentrytemplates",
    "enterprisenetworks",
    "networkmacrogroups",
    "containers",
    "containerinterfaces",
    "vms",
    "vminterfaces",
    "sharednetworkresources",
    "floatingips",
    "l2domains",
    "appdservices",
    "appdapplications",
    "compliancepolicies",
)


class Registry:
    """Every served entity and relation, looked up by REST or resource name."""

    def __init__(self) -> None:
        model = _load_model()
        self.entities: dict[str, Entity] = {}
        for rest_name, rules in _ENTITY_RULES.items():
            raw = model[rest_name]
            if rest_name.endswith("aclentrytemplate"):  # owned by its policy kind
                rules = {**rules, "owners": (rest_name.replace("entry", ""),)}
            attrs = {
                name: Attr(name, a["type"], tuple(a["choices"]) if a["choices"] else None)
                for name, a in raw["attrs"].items()
            }
            self.entities[rest_name] = Entity(
                rest_name=rest_name,
                resource=raw["resource_name"],
                attrs=attrs,
                owners=tuple(rules["owners"]),
                readonly=frozenset(rules.get("readonly", ())),
                required=tuple(rules.get("required", ())),
                immutable=frozenset(rules.get("immutable", ())),
                write_only=frozenset(rules.get("write_only", ())),
                defaults=dict(rules.get("defaults", {})),
                unique_scope=rules.get("unique_scope", "parent"),
                unique_attr=rules.get("unique_attr", "name"),
                unique_ignores_case=rules.get("unique_ignores_case", False),
                global_scope=rules.get("global_scope", False),
                operator_only=rules.get("operator_only", False),
                server_managed=rules.get("server_managed", False),
            )
        self.by_resource = {e.resource: e for e in self.entities.values()}
        self.relations: dict[tuple[str, str], Relation] = {}
        for entity in self.entities.values():
            for owner in entity.owners:
                kind: Literal["owner", "root"] = "root" if owner == ROOT else "owner"
                self.relations[(owner, entity.resource)] = Relation(owner, entity.rest_name, kind)
        for resource in _ROOT_LISTINGS:
            key = (ROOT, resource)
            if key not in self.relations:
                self.relations[key] = Relation(ROOT, self.by_resource[resource].rest_name, "root")
        for parent, resources_ in _DESCENDANT_LISTINGS.items():
            for resource in resources_:
                key = (parent, resource)
                if key not in self.relations:
                    child = self.by_resource[resource].rest_name
                    self.relations[key] = Relation(parent, child, "descendant")
        for (parent, resource), attr in _REFERENCE_LISTINGS.items():
            child = self.by_resource[resource].rest_name
            self.relations[(parent, resource)] = Relation(parent, child, "reference", via=attr)
        for parent, resource in _APPLICABLE_LISTINGS:
            child = self.by_resource[resource].rest_name
            self.relations[(parent, resource)] = Relation(parent, child, "applicable")
        for parent, child in MEMBER_RELATIONS.values():
            self.relations[(parent, self.entities[child].resource)] = Relation(parent, child, "member")
            self.relations[(child, self.entities[parent].resource)] = Relation(child, parent, "member")

    def entity(self, rest_name: str) -> Entity:
        return self.entities[rest_name]

    @cached_property
    def me_attrs(self) -> tuple[str, ...]:
        return tuple(sorted(_load_model()["me"]["attrs"]))

    def member_relation(self, parent: str, child: str) -> tuple[str, bool]:
        """Return (relation name, whether ``parent`` is the relation's left side)."""
        for name, (left, right) in MEMBER_RELATIONS.items():
            if (left, right) == (parent, child):
                return name, True
            if (left, right) == (child, parent):
                return name, False
        raise KeyError((parent, child))


REGISTRY = Registry()
