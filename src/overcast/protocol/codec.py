"""Entries <-> protobuf, state digests, and pre-encoded updates.

A host's state is a set of entries (see :mod:`overcast.policy.compiler`). On the wire each entry
is an ``Entry`` message; its **deterministic encoding** is what the digest hashes, so both ends
compute the same digest from what they hold, one entry at a time (XOR of 64-bit hashes).

The controller sends one domain's entries to every host in that domain. It encodes each entry
once and builds each host's ``Update`` by concatenating the encoded entries: in the protobuf
wire format a repeated message field is a sequence of (tag, length, bytes) records, so
concatenation is a valid encoding (https://protobuf.dev/programming-guides/encoding/#optional).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import xxhash

from ..policy.compiler import Defaults as RuleDefaults
from ..policy.compiler import DomainInfo, Endpoint, Key, Rule, RuleSet, Subnet
from . import controller_pb2 as pb


def encode_entry(key: Key, value: Any) -> pb.Entry:
    family, domain_id = key[0], key[1]
    entry = pb.Entry(domain_id=domain_id)
    if family == "domain":
        entry.domain.SetInParent()
        if value.enterprise_id is not None:
            entry.domain.enterprise_id = value.enterprise_id
        entry.domain.l2 = value.l2
    elif family == "subnet":
        entry.subnet.CopyFrom(
            pb.Subnet(
                id=value.id,
                zone_id=value.zone_id,
                prefix=value.prefix,
                gateway=value.gateway,
                gateway_mac=value.gateway_mac,
                vni=value.vni,
                pat=value.pat,
                advertise=value.advertise,
            )
        )
    elif family == "endpoint":
        entry.endpoint.CopyFrom(
            pb.Endpoint(
                vport_id=value.vport_id,
                mac=value.mac,
                ip=value.ip,
                subnet_id=value.subnet_id,
                zone_id=value.zone_id,
                host_id=value.host_id,
                vtep=value.vtep,
                floating_ip=value.floating_ip,
            )
        )
    elif family == "member":
        entry.member.set = key[2]
        entry.member.bucket = key[3]
        entry.member.cidrs.extend(sorted(value))
    elif family == "rules":
        entry.rules.direction = value.direction
        entry.rules.default_allow_ip = value.defaults.allow_ip
        entry.rules.default_allow_non_ip = value.defaults.allow_non_ip
        entry.rules.log_default_denies = value.defaults.log_denies
        entry.rules.rules.extend(_encode_rule(rule) for rule in value.rules)
    else:
        raise ValueError(f"unknown entry family {family!r}")
    return entry


def _range(bounds: tuple[int, int] | None) -> pb.PortRange | None:
    return None if bounds is None else pb.PortRange(low=bounds[0], high=bounds[1])


def _encode_rule(rule: Rule) -> pb.Rule:
    return pb.Rule(
        entry_id=rule.entry_id,
        action=rule.action,
        local=rule.local,
        remote=rule.remote,
        protocol=rule.protocol,
        source_ports=_range(rule.source_ports),
        destination_ports=_range(rule.destination_ports),
        icmp_type=rule.icmp_type,
        icmp_code=rule.icmp_code,
        ether_type=rule.ether_type,
        stateful=rule.stateful,
        logged=rule.logged,
    )


def _get(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _bounds(message: Any, name: str) -> tuple[int, int] | None:
    if not message.HasField(name):
        return None
    value = getattr(message, name)
    return (value.low, value.high)


def entry_key(entry: pb.Entry) -> Key:
    family = entry.WhichOneof("value")
    # The two families that number in the tens of thousands first: agents call this per entry.
    if family == "member":
        member = entry.member
        return ("member", entry.domain_id, member.set, member.bucket)
    if family == "endpoint":
        return ("endpoint", entry.domain_id, entry.endpoint.vport_id)
    if family == "domain":
        return ("domain", entry.domain_id)
    if family == "subnet":
        return ("subnet", entry.domain_id, entry.subnet.id)
    if family == "rules":
        return ("rules", entry.domain_id, entry.rules.direction)
    raise ValueError(f"an entry without a value for domain {entry.domain_id!r}")


def decode_entry(entry: pb.Entry) -> tuple[Key, Any]:
    """The (key, value) an entry carries, exactly as the compiler produced it."""
    key = entry_key(entry)
    family = key[0]
    value: Any
    if family == "domain":
        value = DomainInfo(
            id=entry.domain_id, enterprise_id=_get(entry.domain, "enterprise_id"), l2=entry.domain.l2
        )
    elif family == "subnet":
        s = entry.subnet
        value = Subnet(
            id=s.id,
            zone_id=_get(s, "zone_id"),
            prefix=s.prefix,
            gateway=_get(s, "gateway"),
            gateway_mac=_get(s, "gateway_mac"),
            vni=_get(s, "vni"),
            pat=s.pat,
            advertise=s.advertise,
        )
    elif family == "endpoint":
        e = entry.endpoint
        value = Endpoint(
            vport_id=e.vport_id,
            mac=e.mac,
            ip=_get(e, "ip"),
            subnet_id=e.subnet_id,
            zone_id=_get(e, "zone_id"),
            host_id=_get(e, "host_id"),
            vtep=_get(e, "vtep"),
            floating_ip=_get(e, "floating_ip"),
        )
    elif family == "member":
        value = frozenset(entry.member.cidrs)
    else:
        r = entry.rules
        value = RuleSet(
            direction=r.direction,
            rules=tuple(_decode_rule(rule) for rule in r.rules),
            defaults=RuleDefaults(
                allow_ip=r.default_allow_ip,
                allow_non_ip=r.default_allow_non_ip,
                log_denies=r.log_default_denies,
            ),
        )
    return key, value


def _decode_rule(rule: pb.Rule) -> Rule:
    return Rule(
        entry_id=rule.entry_id,
        action=rule.action,
        local=_get(rule, "local"),
        remote=_get(rule, "remote"),
        protocol=_get(rule, "protocol"),
        source_ports=_bounds(rule, "source_ports"),
        destination_ports=_bounds(rule, "destination_ports"),
        icmp_type=_get(rule, "icmp_type"),
        icmp_code=_get(rule, "icmp_code"),
        ether_type=_get(rule, "ether_type"),
        stateful=rule.stateful,
        logged=rule.logged,
    )


def encode_key(key: Key) -> pb.EntryKey:
    return pb.EntryKey(family=key[0], domain_id=key[1], identity=list(key[2:]))


def decode_key(message: pb.EntryKey) -> Key:
    return (message.family, message.domain_id, *message.identity)


# --- digests ---------------------------------------------------------------------------------


def entry_bytes(key: Key, value: Any) -> bytes:
    return encode_entry(key, value).SerializeToString(deterministic=True)


def bytes_hash(encoded: bytes) -> int:
    """One entry's contribution to a digest (a state's digest is the XOR over its entries).

    XXH3-64: a well-distributed 64-bit hash at a tenth of BLAKE2b's cost (an agent hashes every
    entry of a snapshot). Not a linear checksum such as CRC, under which two endpoints swapping
    addresses would leave the XOR unchanged."""
    return xxhash.xxh3_64_intdigest(encoded)


def digest_of(entries: Iterable[tuple[Key, Any]]) -> int:
    value = 0
    for key, entry in entries:
        value ^= bytes_hash(entry_bytes(key, entry))
    return value


# --- pre-encoded updates -----------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, payload."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


_UPSERTS = pb.Update.DESCRIPTOR.fields_by_name["upserts"].number
_UPDATE = pb.ControllerMessage.DESCRIPTOR.fields_by_name["update"].number


class WireEntry(NamedTuple):
    """An entry ready to send: framed as one element of ``Update.upserts``, and its hash."""

    framed: bytes
    hash: int


def wire_entry(key: Key, value: Any) -> WireEntry:
    encoded = entry_bytes(key, value)
    return WireEntry(_field(_UPSERTS, encoded), bytes_hash(encoded))


def update_message(
    revision: int, *, snapshot: bool, upserts: Iterable[bytes], removals: Iterable[Key], digest: int
) -> bytes:
    """A serialized ``ControllerMessage`` carrying one ``Update``; ``upserts`` are framed
    entries (``WireEntry.framed``), joined as they are."""
    head = pb.Update(
        revision=revision, snapshot=snapshot, digest=digest, removals=[encode_key(k) for k in removals]
    ).SerializeToString()
    return _field(_UPDATE, b"".join([head, *upserts]))
