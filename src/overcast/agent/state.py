"""The desired state an agent holds: entries by key, the revision, and the running digest.

Updates apply atomically: the digest the controller announced is checked *before* anything
changes, so a host never holds a state the controller did not mean.

Entries are kept as the protobuf messages they arrived as and decoded on demand: checking an
update needs only each entry's key and hash, and a simulated host (the memory dataplane, the
scale benchmark's forty agents in one process) should not pay for decoding what it never reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..policy.compiler import DomainView, Endpoint, Key, domain_view
from ..protocol import codec
from ..protocol import controller_pb2 as pb


class StateError(Exception):
    """An update that cannot be applied (the agent nacks it; the controller resends a snapshot)."""


@dataclass
class Change:
    """What one update changes; for a snapshot, ``upserts`` is the whole new state and
    ``removals`` everything held before that it no longer has."""

    snapshot: bool
    upserts: dict[Key, pb.Entry] = field(default_factory=dict)
    removals: set[Key] = field(default_factory=set)

    def values(self) -> dict[Key, Any]:
        """The upserted entries decoded."""
        return {key: codec.decode_entry(entry)[1] for key, entry in self.upserts.items()}


@dataclass
class HostState:
    host_id: str
    raw: dict[Key, pb.Entry] = field(default_factory=dict)
    hashes: dict[Key, int] = field(default_factory=dict)
    digest: int = 0
    revision: int = 0
    #: vport ID -> (domain ID, endpoint) for endpoints running on this host
    local: dict[str, tuple[str, Endpoint]] = field(default_factory=dict)
    _decoded: dict[Key, Any] | None = None

    def prepare(self, update: pb.Update) -> tuple[Change, dict[Key, int], int]:
        """Check an update against the digest it announces, without changing anything."""
        change = Change(snapshot=update.snapshot)
        hashes: dict[Key, int] = {}
        entry_key, bytes_hash = codec.entry_key, codec.bytes_hash
        for entry in update.upserts:
            key = entry_key(entry)
            change.upserts[key] = entry
            hashes[key] = bytes_hash(entry.SerializeToString(deterministic=True))
        if update.snapshot:
            digest = 0
            for value in hashes.values():
                digest ^= value
            change.removals = set(self.raw) - set(change.upserts)
        else:
            digest = self.digest
            for message in update.removals:
                key = codec.decode_key(message)
                if key not in self.hashes:
                    raise StateError(f"removal of an entry not held: {key}")
                change.removals.add(key)
                digest ^= self.hashes[key]
            for key, value in hashes.items():
                if key in self.hashes and key not in change.removals:
                    digest ^= self.hashes[key]
                digest ^= value
        if digest != update.digest:
            raise StateError(
                f"digest mismatch at revision {update.revision}: have {digest:016x}, "
                f"controller has {update.digest:016x}"
            )
        return change, hashes, digest

    def commit(self, update: pb.Update, change: Change, hashes: dict[Key, int], digest: int) -> None:
        if change.snapshot:
            self.raw, self.hashes, self.local = dict(change.upserts), dict(hashes), {}
        else:
            for key in change.removals:
                del self.raw[key]
                del self.hashes[key]
                if key[0] == "endpoint":
                    self.local.pop(key[2], None)
            self.raw.update(change.upserts)
            self.hashes.update(hashes)
        for key, entry in change.upserts.items():
            if key[0] == "endpoint":
                if entry.endpoint.host_id == self.host_id:
                    self.local[key[2]] = (key[1], codec.decode_entry(entry)[1])
                else:
                    self.local.pop(key[2], None)
        self.digest, self.revision = digest, update.revision
        self._decoded = None

    # --- reading ---------------------------------------------------------------------------------

    @property
    def entries(self) -> dict[Key, Any]:
        """Every entry decoded (computed once per revision)."""
        if self._decoded is None:
            self._decoded = {key: codec.decode_entry(entry)[1] for key, entry in self.raw.items()}
        return self._decoded

    def domain_ids(self) -> list[str]:
        return sorted(k[1] for k in self.raw if k[0] == "domain")

    def views(self) -> list[DomainView]:
        return views_of(self.entries, self.host_id)

    def endpoint(self, vport_id: str) -> tuple[str, Endpoint] | None:
        """(domain ID, endpoint) of a vport running on this host, if the state says so."""
        return self.local.get(vport_id)


def views_of(entries: dict[Key, Any], host_id: str) -> list[DomainView]:
    """Entries grouped by domain, as seen from one host."""
    by_domain: dict[str, list[tuple[Key, Any]]] = {}
    for key, value in entries.items():
        by_domain.setdefault(key[1], []).append((key, value))
    return [domain_view(items, host_id) for _, items in sorted(by_domain.items())]
