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

from ..dataplane.change import Change
from ..policy.compiler import DomainView, Endpoint, Key, views_of
from ..protocol import codec
from ..protocol import controller_pb2 as pb


class StateError(Exception):
    """An update that cannot be applied (the agent nacks it; the controller resends a snapshot)."""


@dataclass
class Prepared:
    """An update checked against the state before it: what it changes, the new entries'
    hashes, and the digest after it."""

    update: pb.Update
    change: Change
    hashes: dict[Key, int]
    digest: int


def _prepare(update: pb.Update, held: dict[Key, int], held_digest: int) -> Prepared:
    """Check an update against a state (its entries' hashes and digest); pure."""
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
        change.removals = set(held) - set(change.upserts)
    else:
        digest = held_digest
        for message in update.removals:
            key = codec.decode_key(message)
            if key not in held:
                raise StateError(f"removal of an entry not held: {key}")
            change.removals.add(key)
            digest ^= held[key]
        for key, value in hashes.items():
            if key in held and key not in change.removals:
                digest ^= held[key]
            digest ^= value
    if digest != update.digest:
        raise StateError(
            f"digest mismatch at revision {update.revision}: have {digest:016x}, "
            f"controller has {update.digest:016x}"
        )
    return Prepared(update, change, hashes, digest)


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

    def prepare(self, update: pb.Update) -> Prepared:
        """Check an update against the digest it announces, without changing anything."""
        return _prepare(update, self.hashes, self.digest)

    def prepare_many(self, updates: list[pb.Update]) -> tuple[list[Prepared], StateError | None]:
        """Check consecutive updates, each against the state the ones before it leave, without
        changing anything. Returns the prepared prefix and the error that stopped it (the
        update after the prefix is refused), or None when every update checked."""
        held, digest = self.hashes, self.digest
        prepared: list[Prepared] = []
        for position, update in enumerate(updates):
            try:
                step = _prepare(update, held, digest)
            except StateError as exc:
                return prepared, exc
            prepared.append(step)
            if position + 1 < len(updates):  # advance a scratch copy for the next one
                if step.change.snapshot:
                    held = dict(step.hashes)
                else:
                    held = dict(held) if held is self.hashes else held
                    for key in step.change.removals:
                        del held[key]
                    held.update(step.hashes)
                digest = step.digest
        return prepared, None

    def commit(self, prepared: Prepared) -> None:
        update, change, hashes, digest = prepared.update, prepared.change, prepared.hashes, prepared.digest
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

    def value(self, key: Key) -> Any | None:
        """One entry decoded (without decoding the rest), or None when not held."""
        entry = self.raw.get(key)
        return None if entry is None else codec.decode_entry(entry)[1]

    def domain_ids(self) -> list[str]:
        return sorted(k[1] for k in self.raw if k[0] == "domain")

    def views(self) -> list[DomainView]:
        return views_of(self.entries, self.host_id)

    def endpoint(self, vport_id: str) -> tuple[str, Endpoint] | None:
        """(domain ID, endpoint) of a vport running on this host, if the state says so."""
        return self.local.get(vport_id)
