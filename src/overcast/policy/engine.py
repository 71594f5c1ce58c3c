"""The incremental policy engine: directory changes in, per-host deltas out. Pure: no I/O, no clock.

It holds the directory state (a :class:`PolicyInput`) with the indexes needed to find what a
change touches, and every domain's published entries (see :mod:`.compiler`). A batch of changes
is applied in two phases, the way Felix's calculation graph and OVN's incremental engine work:

1. update the model and *mark* what may be affected (vports, policy groups, whole domains for
   the small families: domain info, subnets, rules and prefix sets);
2. recompute only the marked items, in dependency order (endpoints, then rules and the sets
   they reference, then policy-group sets), and diff them against what is published.

The order of changes inside a batch does not matter; the result equals
:func:`.compiler.compile_domains` over the same state (the property tests assert it). Per host,
the delta holds only domains where the host runs an endpoint: a host joining a domain receives
all of it, a host leaving it receives the removal of all of it.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .compiler import (
    Endpoint,
    Key,
    PolicyInput,
    domain_info,
    endpoint_key,
    endpoint_of,
    logs_default_denies,
    member_key,
    pg_set,
    prefix_set,
    referenced_sets,
    rule_set,
    rules_key,
    set_bucket,
    set_entries,
    subnet_key,
    subnet_of,
)

INTERFACE_KINDS = ("containerinterface", "vminterface")
OWNER_KINDS = ("container", "vm")
TEMPLATE_KINDS = ("ingressacltemplate", "egressacltemplate")
ENTRY_KINDS = {"ingressaclentrytemplate": "ingress", "egressaclentrytemplate": "egress"}
#: Kinds the engine reads; changes to any other kind are ignored.
_SEGMENT = ("address", "netmask", "gateway", "gatewayMACAddress", "vnId", "PATEnabled", "advertise")
_ENTRY = (
    "priority",
    "action",
    "locationType",
    "locationID",
    "networkType",
    "networkID",
    "protocol",
    "sourcePort",
    "destinationPort",
    "ICMPType",
    "ICMPCode",
    "etherType",
    "stateful",
    "statsLoggingEnabled",  # the controller's statistics keep the entry's counts
    "flowLoggingEnabled",  # the datapath logs the flows it decides
)
_TEMPLATE = ("active", "policyState", "priorityType", "priority", "defaultAllowIP", "defaultAllowNonIP")
_INTERFACE = ("VPortID", "MAC", "IPAddress", "attachedNetworkID", "domainID", "zoneID")
#: Per kind, the attributes the compiler reads (beside ID, parentID, parentType). The engine keeps
#: only these, so an update touching nothing else (a container's status, a host's counters)
#: costs a comparison and no recomputation, and the model stays small.
RELEVANT: dict[str, tuple[str, ...]] = {
    "domain": ("PATEnabled", "flowCollectionEnabled"),
    "l2domain": _SEGMENT,
    "zone": (),
    "subnet": _SEGMENT,
    "vport": ("associatedFloatingIPID",),
    "floatingip": ("address",),
    "policygroup": (),
    "containerinterface": _INTERFACE,
    "vminterface": _INTERFACE,
    "container": ("VRSID",),
    "vm": ("VRSID",),
    "vrs": ("name", "address"),
    "ingressacltemplate": _TEMPLATE,
    "egressacltemplate": _TEMPLATE,
    "ingressaclentrytemplate": _ENTRY,
    "egressaclentrytemplate": _ENTRY,
    "enterprisenetwork": ("address", "netmask"),
    "networkmacrogroup": (),
    "statisticspolicy": ("dataCollectionFrequency",),  # the controller's statistics, not compiled
}


def project(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an object the compiler reads."""
    out = {"ID": obj["ID"], "parentID": obj.get("parentID"), "parentType": obj.get("parentType")}
    for attr in RELEVANT[kind]:
        if attr in obj:
            out[attr] = obj[attr]
    return out


#: Kinds the engine reads; changes to any other kind are ignored.
POLICY_KINDS = tuple(RELEVANT)
#: Group kinds whose members the engine tracks: policy groups hold vports, macro groups macros.
GROUP_KINDS = ("policygroup", "networkmacrogroup")
_MISSING = object()


@dataclass(frozen=True)
class Upsert:
    """An object was created or updated: its full JSON as the directory stores it."""

    kind: str
    obj: Mapping[str, Any]


@dataclass(frozen=True)
class Remove:
    kind: str
    id: str


@dataclass(frozen=True)
class SetMembers:
    """A group's member list replaced (policy group -> vports, macro group -> macros)."""

    group_id: str
    member_ids: frozenset[str]


@dataclass(frozen=True)
class SetGroups:
    """A member's group list replaced (a vport's policy groups, a macro's macro groups)."""

    member_id: str
    group_kind: str
    group_ids: frozenset[str]


Change = Upsert | Remove | SetMembers | SetGroups


@dataclass
class HostDelta:
    """What one host must change: entries to add or replace, keys to remove."""

    upserts: dict[Key, Any] = field(default_factory=dict)
    removals: set[Key] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removals)


@dataclass
class Work:
    """What one :meth:`PolicyEngine.apply` recomputed — the measure of its incrementality.

    ``domains``: recomputed whole (segments, rules, references); ``endpoints``: vports whose
    endpoint was derived again; ``sets``: (domain, set) pairs whose members were; ``encoded``:
    entries published (each encoded once, whatever the number of hosts); ``hosts``: hosts whose
    delta was assembled (those of a domain that changed, and only those)."""

    domains: set[str] = field(default_factory=set)
    endpoints: int = 0
    sets: int = 0
    encoded: int = 0
    hosts: set[str] = field(default_factory=set)


class EncodedEntry(Protocol):
    """An entry as the transport will send it: its bytes and their hash (the digests')."""

    @property
    def framed(self) -> bytes: ...

    @property
    def hash(self) -> int: ...


class PolicyEngine:
    """The controller's in-memory model and every domain's published entries.

    ``encode`` turns a published entry into what is sent (the wire encoding is the protocol's
    business, injected: the engine stays pure policy); each entry is encoded once per change,
    for every host of its domain."""

    def __init__(self, encode: Callable[[Key, Any], EncodedEntry]) -> None:
        self.state = PolicyInput()
        self._encode = encode
        #: domain ID -> published entries (present only for existing domains)
        self.domains: dict[str, dict[Key, Any]] = {}
        #: domain ID -> key -> the entry ready to send, and its hash (encoded once, sent to every
        #: host of the domain)
        self.encoded: dict[str, dict[Key, EncodedEntry]] = {}
        #: domain ID -> XOR of its entries' hashes; a host's digest is the XOR over its domains
        self.digests: dict[str, int] = {}
        #: domain ID -> host -> number of its endpoints there (published endpoints only)
        self.host_count: dict[str, Counter[str]] = defaultdict(Counter)
        self.domains_of_host: dict[str, set[str]] = defaultdict(set)
        # indexes
        self._children: dict[str, set[tuple[str, str]]] = defaultdict(set)  # parent ID -> (kind, ID)
        self._interfaces_by_vport: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._owners_by_vrs: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._vports_by_fip: dict[str, set[tuple[str, str]]] = defaultdict(set)  # floating IP -> vports
        self._groups_of: dict[str, set[str]] = defaultdict(set)  # member ID -> group IDs
        self._domain_of: dict[str, str] = {}  # zone/subnet/template/entry/group ID -> domain ID
        # derived model (independent of whether the domain exists)
        self._endpoint_at: dict[str, tuple[str, Endpoint]] = {}  # vport -> (domain, endpoint)
        self._endpoints_in: dict[str, dict[str, Endpoint]] = defaultdict(dict)
        self._refs: dict[str, frozenset[str]] = {}
        self._referencing: dict[str, set[str]] = defaultdict(set)  # set name -> domains
        self._set_members: dict[tuple[str, str], frozenset[str]] = {}
        # per batch
        self._dirty_vports: set[str] = set()
        self._dirty_groups: set[str] = set()
        self._dirty_domains: set[str] = set()
        self._upserted: list[tuple[str, str]] = []
        self._old: dict[str, dict[Key, Any]] = {}
        self._hosts_before: dict[str, frozenset[str]] = {}
        #: What the last apply() recomputed.
        self.work = Work()

    # --- reading -------------------------------------------------------------------------------

    def hosts(self) -> dict[str, str]:
        return self.state.hosts()

    def endpoint(self, vport_id: str) -> tuple[str, Endpoint] | None:
        """(domain ID, endpoint) of a vport that has one (an interface with an address)."""
        return self._endpoint_at.get(vport_id)

    def host_entries(self, host_id: str) -> dict[Key, Any]:
        """Everything one host must hold (the snapshot a session starts with)."""
        out: dict[Key, Any] = {}
        for domain_id in self.domains_of_host.get(host_id, ()):
            out.update(self.domains[domain_id])
        return out

    def host_encoded(self, host_id: str) -> list[bytes]:
        """The wire encoding of everything one host must hold."""
        return [w.framed for d in self.domains_of_host.get(host_id, ()) for w in self.encoded[d].values()]

    def host_digest(self, host_id: str) -> int:
        value = 0
        for domain_id in self.domains_of_host.get(host_id, ()):
            value ^= self.digests[domain_id]
        return value

    # --- applying a batch --------------------------------------------------------------------

    def apply(self, changes: Iterable[Change]) -> dict[str, HostDelta]:
        """Apply one batch; return the delta of every host whose state changed."""
        for change in changes:
            if isinstance(change, Upsert):
                if change.kind in POLICY_KINDS:
                    self._upsert(change.kind, project(change.kind, change.obj))
            elif isinstance(change, Remove):
                if change.kind in POLICY_KINDS:
                    self._remove(change.kind, change.id)
            elif isinstance(change, SetMembers):
                self._set_members_of(change.group_id, change.member_ids)
            else:
                self._set_groups_of(change.member_id, change.group_kind, change.group_ids)
        self.work = Work()
        self._resolve_upserted()
        self.work.endpoints = len(self._dirty_vports)
        for vport_id in sorted(self._dirty_vports):
            self._recompute_endpoint(vport_id)
        self.work.domains = set(self._dirty_domains)
        for domain_id in sorted(self._dirty_domains):
            self._recompute_domain(domain_id)
        for group_id in sorted(self._dirty_groups):
            for domain_id in sorted(self._referencing.get(f"pg:{group_id}", ())):
                self._recompute_set(domain_id, f"pg:{group_id}")
        deltas = self._host_deltas()
        self._dirty_vports.clear()
        self._dirty_groups.clear()
        self._dirty_domains.clear()
        self._upserted.clear()
        self._old.clear()
        self._hosts_before.clear()
        return deltas

    # --- phase 1: the model and what a change may touch ------------------------------------------

    def _mark_object(self, kind: str, obj: Mapping[str, Any]) -> None:
        """Mark what depends on this object (called with the old and with the new version)."""
        object_id = obj["ID"]
        if kind in ("domain", "l2domain"):
            self._dirty_domains.add(object_id)
        elif kind in ("zone", "subnet") or kind in TEMPLATE_KINDS or kind in ENTRY_KINDS:
            # Known from when it was resolved, or (its parent having arrived later) resolvable now.
            domain_id = self._domain_of.get(object_id) or self._resolve_domain(kind, obj)
            if domain_id is not None:
                self._dirty_domains.add(domain_id)
        elif kind == "policygroup":
            self._dirty_groups.add(object_id)
        elif kind in INTERFACE_KINDS:
            if obj.get("VPortID"):
                self._dirty_vports.add(obj["VPortID"])
        elif kind in OWNER_KINDS:
            self._mark_owner(object_id)
        elif kind == "vport":
            self._dirty_vports.add(object_id)
        elif kind == "floatingip":
            self._dirty_vports.update(vport_id for _kind, vport_id in self._vports_by_fip.get(object_id, ()))
        elif kind == "vrs":
            for _kind, owner_id in self._owners_by_vrs.get(object_id, ()):
                self._mark_owner(owner_id)
        elif kind == "enterprisenetwork":
            self._dirty_domains.update(self._referencing.get(f"macro:{object_id}", ()))
            for group_id in self._groups_of.get(object_id, ()):
                self._dirty_domains.update(self._referencing.get(f"macrogroup:{group_id}", ()))
        elif kind == "networkmacrogroup":
            self._dirty_domains.update(self._referencing.get(f"macrogroup:{object_id}", ()))

    def _mark_owner(self, owner_id: str) -> None:
        for child_kind, child_id in self._children.get(owner_id, ()):
            interface = self.state.get(child_kind, child_id)
            if child_kind in INTERFACE_KINDS and interface and interface.get("VPortID"):
                self._dirty_vports.add(interface["VPortID"])

    def _index(self, kind: str, obj: Mapping[str, Any], add: bool) -> None:
        object_id = obj["ID"]
        parent_id = obj.get("parentID")

        def update(index: dict[str, set[tuple[str, str]]], at: str | None) -> None:
            if not at:
                return
            if add:
                index[at].add((kind, object_id))
            else:
                index[at].discard((kind, object_id))
                if not index[at]:
                    del index[at]

        update(self._children, parent_id)
        if kind in INTERFACE_KINDS:
            update(self._interfaces_by_vport, obj.get("VPortID"))
        if kind in OWNER_KINDS:
            update(self._owners_by_vrs, obj.get("VRSID"))
        if kind == "vport":
            update(self._vports_by_fip, obj.get("associatedFloatingIPID"))

    def _upsert(self, kind: str, obj: dict[str, Any]) -> None:
        old = self.state.get(kind, obj["ID"])
        if old == obj:
            return  # nothing the compiler reads has changed
        if old is not None:
            self._mark_object(kind, old)
            self._index(kind, old, add=False)
        self.state.add(kind, obj)
        self._index(kind, obj, add=True)
        self._upserted.append((kind, obj["ID"]))

    def _remove(self, kind: str, object_id: str) -> None:
        old = self.state.get(kind, object_id)
        if old is None:
            return
        self._mark_object(kind, old)
        self._index(kind, old, add=False)
        del self.state.objects[kind][object_id]
        self._domain_of.pop(object_id, None)
        # The directory drops an object's memberships with it, on either side.
        if kind in GROUP_KINDS:
            self._set_members_of(object_id, frozenset())
        if kind in ("vport", "enterprisenetwork"):
            group_kind = "policygroup" if kind == "vport" else "networkmacrogroup"
            self._set_groups_of(object_id, group_kind, frozenset())

    def _set_members_of(self, group_id: str, member_ids: frozenset[str]) -> None:
        old = self.state.members.get(group_id, frozenset())
        if old == member_ids:
            return
        for member_id in old - member_ids:
            self._groups_of[member_id].discard(group_id)
            if not self._groups_of[member_id]:
                del self._groups_of[member_id]
        for member_id in member_ids - old:
            self._groups_of[member_id].add(group_id)
        if member_ids:
            self.state.members[group_id] = member_ids
        else:
            self.state.members.pop(group_id, None)
        self._mark_group(group_id)

    def _set_groups_of(self, member_id: str, group_kind: str, group_ids: frozenset[str]) -> None:
        current = {g for g in self._groups_of.get(member_id, ()) if self._group_kind(g) in (group_kind, None)}
        for group_id in current - group_ids:
            self._set_members_of(group_id, self.state.members.get(group_id, frozenset()) - {member_id})
        for group_id in group_ids - current:
            self._set_members_of(group_id, self.state.members.get(group_id, frozenset()) | {member_id})

    def _group_kind(self, group_id: str) -> str | None:
        for kind in GROUP_KINDS:
            if self.state.get(kind, group_id) is not None:
                return kind
        return None

    def _mark_group(self, group_id: str) -> None:
        self._dirty_groups.add(group_id)
        self._dirty_domains.update(self._referencing.get(f"macrogroup:{group_id}", ()))

    def _resolve_upserted(self) -> None:
        """Resolve each new or changed object's domain once the whole batch is in the model."""
        for kind, object_id in self._upserted:
            obj = self.state.get(kind, object_id)
            if obj is None:
                continue
            domain_id = self._resolve_domain(kind, obj)
            if domain_id is not None:
                self._domain_of[object_id] = domain_id
                # Children that arrived before this parent learn their domain now.
                for child_kind, child_id in self._children.get(object_id, ()):
                    if child_kind == "subnet" or child_kind in ENTRY_KINDS:
                        self._domain_of[child_id] = domain_id
            self._mark_object(kind, obj)

    def _resolve_domain(self, kind: str, obj: Mapping[str, Any]) -> str | None:
        parent_id = obj.get("parentID")
        if kind in ("zone", "policygroup") or kind in TEMPLATE_KINDS:
            return parent_id
        if kind == "subnet":
            parent = self.state.get("zone", parent_id)
        elif kind in ENTRY_KINDS:
            parent = self.state.get(kind.replace("entry", ""), parent_id)
        else:
            return None
        return parent.get("parentID") if parent is not None else None

    # --- phase 2: recompute what was marked ----------------------------------------------------

    def _publish(self, domain_id: str, key: Key, value: Any) -> None:
        """Set (or with ``_MISSING`` remove) one published entry, remembering its old value."""
        entries = self.domains.get(domain_id)
        if entries is None:
            return  # the domain does not exist: nothing of it is published
        old = entries.get(key, _MISSING)
        if old is value or old == value:
            return
        self._old.setdefault(domain_id, {}).setdefault(key, old)
        self._hosts_before.setdefault(domain_id, frozenset(self.host_count.get(domain_id, ())))
        encoded = self.encoded[domain_id]
        if old is not _MISSING:
            self.digests[domain_id] ^= encoded.pop(key).hash
            if key[0] == "endpoint":
                self._count_host(domain_id, old.host_id, -1)
        if value is _MISSING:
            del entries[key]
        else:
            entries[key] = value
            encoded[key] = self._encode(key, value)
            self.work.encoded += 1
            self.digests[domain_id] ^= encoded[key].hash
            if key[0] == "endpoint":
                self._count_host(domain_id, value.host_id, +1)

    def _count_host(self, domain_id: str, host_id: str | None, step: int) -> None:
        if not host_id:
            return
        counts = self.host_count[domain_id]
        counts[host_id] += step
        if counts[host_id] <= 0:
            del counts[host_id]
            self.domains_of_host[host_id].discard(domain_id)
            if not self.domains_of_host[host_id]:
                del self.domains_of_host[host_id]
        elif step > 0 and counts[host_id] == step:
            self.domains_of_host[host_id].add(domain_id)

    def _recompute_endpoint(self, vport_id: str) -> None:
        interfaces = sorted(self._interfaces_by_vport.get(vport_id, ()), key=lambda ki: ki[1])
        found = None
        if interfaces:
            kind, interface_id = interfaces[0]
            interface = self.state.get(kind, interface_id)
            found = endpoint_of(self.state, interface) if interface else None
        old = self._endpoint_at.get(vport_id)
        if old == found:
            return
        if old is not None:
            del self._endpoints_in[old[0]][vport_id]
            self._publish(old[0], endpoint_key(old[0], vport_id), _MISSING)
        if found is None:
            self._endpoint_at.pop(vport_id, None)
        else:
            self._endpoint_at[vport_id] = found
            self._endpoints_in[found[0]][vport_id] = found[1]
            self._publish(found[0], endpoint_key(found[0], vport_id), found[1])
        self._dirty_groups.update(self._groups_of.get(vport_id, ()))

    def _segments(self, domain_id: str) -> list[dict[str, Any]]:
        l2 = self.state.get("l2domain", domain_id)
        if l2 is not None:
            return [l2]
        out = []
        for kind, zone_id in self._children.get(domain_id, ()):
            if kind == "zone":
                for child_kind, child_id in self._children.get(zone_id, ()):
                    if child_kind == "subnet":
                        out.append(self.state.objects["subnet"][child_id])
        return out

    def _recompute_domain(self, domain_id: str) -> None:
        info = domain_info(self.state, domain_id)
        exists = domain_id in self.domains
        if info is None:
            if exists:
                for key in list(self.domains[domain_id]):
                    self._publish(domain_id, key, _MISSING)
                del self.domains[domain_id]
                del self.encoded[domain_id]
                del self.digests[domain_id]
            self._set_refs(domain_id, frozenset())
            return
        if not exists:
            self.domains[domain_id] = {}
            self.encoded[domain_id] = {}
            self.digests[domain_id] = 0
            for vport_id, endpoint in self._endpoints_in.get(domain_id, {}).items():
                self._publish(domain_id, endpoint_key(domain_id, vport_id), endpoint)
            for (set_domain, name), cidrs in self._set_members.items():
                if set_domain == domain_id:
                    for key, bucket in set_entries(domain_id, name, cidrs).items():
                        self._publish(domain_id, key, bucket)
        entries = self.domains[domain_id]
        self._publish(domain_id, ("domain", domain_id), info)
        segments = self._segments(domain_id)
        l3 = self.state.get("domain", domain_id)
        subnets = {subnet_key(domain_id, s): s for s in (subnet_of(segment, l3) for segment in segments)}
        for key in [k for k in entries if k[0] == "subnet" and k not in subnets]:
            self._publish(domain_id, key, _MISSING)
        for key, subnet in subnets.items():
            self._publish(domain_id, key, subnet)
        rule_sets = []
        for direction in ("ingress", "egress"):
            templates = (
                self.state.objects[kind][template_id]
                for kind, template_id in self._children.get(domain_id, ())
                if kind == f"{direction}acltemplate"
            )
            entries_of = functools.partial(self._entries_of, direction=direction)
            rs = rule_set(direction, templates, entries_of, log_denies=logs_default_denies(l3))
            self._publish(domain_id, rules_key(domain_id, direction), rs)
            rule_sets.append(rs)
        self._set_refs(domain_id, referenced_sets(rule_sets))
        for name in self._refs.get(domain_id, ()):
            if not name.startswith("pg:"):
                self._store_set(domain_id, name, prefix_set(self.state, name, segments))

    def _entries_of(self, template_id: str, direction: str) -> list[dict[str, Any]]:
        kind = f"{direction}aclentrytemplate"
        return [
            self.state.objects[kind][entry_id]
            for entry_kind, entry_id in self._children.get(template_id, ())
            if entry_kind == kind
        ]

    def _set_refs(self, domain_id: str, names: frozenset[str]) -> None:
        old = self._refs.get(domain_id, frozenset())
        if names == old:
            return
        # The new references first: a policy group set that becomes referenced is computed
        # from them (before, it was computed against the old ones and came out empty until the
        # group's membership changed again).
        if names:
            self._refs[domain_id] = names
        else:
            self._refs.pop(domain_id, None)
        for name in old - names:
            self._referencing[name].discard(domain_id)
            if not self._referencing[name]:
                del self._referencing[name]
            self._store_set(domain_id, name, frozenset())
        for name in names - old:
            self._referencing[name].add(domain_id)
            if name.startswith("pg:"):
                self._recompute_set(domain_id, name)

    def _recompute_set(self, domain_id: str, name: str) -> None:
        self.work.sets += 1
        group_id = name[3:]
        group = self.state.get("policygroup", group_id)
        cidrs: frozenset[str] = frozenset()
        if name in self._refs.get(domain_id, ()) and group is not None and group.get("parentID") == domain_id:
            cidrs = pg_set(self.state.members.get(group_id, ()), self._endpoints_in.get(domain_id, {}))
        self._store_set(domain_id, name, cidrs)

    def _store_set(self, domain_id: str, name: str, cidrs: frozenset[str]) -> None:
        old = self._set_members.get((domain_id, name), frozenset())
        if old == cidrs:
            return
        touched = {set_bucket(cidr) for cidr in old ^ cidrs}
        new_buckets = set_entries(domain_id, name, (c for c in cidrs if set_bucket(c) in touched))
        for bucket in touched:
            key = member_key(domain_id, name, bucket)
            self._publish(domain_id, key, new_buckets.get(key, _MISSING))
        if cidrs:
            self._set_members[(domain_id, name)] = cidrs
        else:
            self._set_members.pop((domain_id, name), None)

    def _host_deltas(self) -> dict[str, HostDelta]:
        deltas: dict[str, HostDelta] = defaultdict(HostDelta)
        for domain_id, old_values in self._old.items():
            entries = self.domains.get(domain_id, {})
            changed = {k: v for k, v in old_values.items() if entries.get(k, _MISSING) != v}
            before = self._hosts_before.get(domain_id, frozenset())
            after = frozenset(self.host_count.get(domain_id, ()))
            self.work.hosts |= before | after
            for host_id in before | after:
                delta = deltas[host_id]
                if host_id in before and host_id in after:
                    for key in changed:
                        if key in entries:
                            delta.upserts[key] = entries[key]
                        else:
                            delta.removals.add(key)
                elif host_id in after:  # joined: the whole domain
                    delta.upserts.update(entries)
                else:  # left: everything it held of the domain
                    held = {k for k in entries if old_values.get(k, True) is not _MISSING}
                    held |= {k for k, v in old_values.items() if v is not _MISSING}
                    delta.removals |= held
        return {h: d for h, d in deltas.items() if d}


def changes_between(before: PolicyInput, after: PolicyInput) -> list[Change]:
    """The changes that turn one state into another (for tests and resynchronisation)."""
    out: list[Change] = []
    for kind in sorted(set(before.objects) | set(after.objects)):
        old, new = before.objects.get(kind, {}), after.objects.get(kind, {})
        out.extend(Upsert(kind, obj) for object_id, obj in new.items() if old.get(object_id) != obj)
        out.extend(Remove(kind, object_id) for object_id in old if object_id not in new)
    for group_id in sorted(set(before.members) | set(after.members)):
        members = after.members.get(group_id, frozenset())
        if before.members.get(group_id, frozenset()) != members:
            out.append(SetMembers(group_id, members))
    return out
