"""The wire codec and the agent's atomic, digest-checked state."""

from __future__ import annotations

import pytest

from overcast.agent.state import HostState, StateError
from overcast.policy.compiler import Defaults, DomainInfo, Endpoint, Rule, RuleSet, Subnet
from overcast.protocol import codec
from overcast.protocol import controller_pb2 as pb

ENTRIES = {
    ("domain", "d1"): DomainInfo("d1", "ent", False),
    ("subnet", "d1", "s1"): Subnet("s1", "z1", "10.0.0.0/24", "10.0.0.1", "02:aa:00:00:00:01", 4097),
    ("subnet", "d1", "s2"): Subnet("s2", None, "10.0.1.0/24", None, None, None),
    ("endpoint", "d1", "v1"): Endpoint("v1", "02:00:00:00:00:01", "10.0.0.2", "s1", "z1", "h1", "192.0.2.1"),
    ("endpoint", "d1", "v2"): Endpoint("v2", "02:00:00:00:00:02", None, "s2", None, "h2", None),
    ("member", "d1", "pg:g1", "03"): frozenset({"10.0.0.2/32", "10.0.0.9/32"}),
    ("rules", "d1", "ingress"): RuleSet(
        "ingress",
        (
            Rule("e1", "FORWARD", "pg:g1", "pg:g2", 6, None, (80, 80), None, None, 0x0800, True),
            Rule("e2", "DROP", None, "ENDPOINT_ZONE", 1, (0, 65535), None, 8, 0, None, False),
        ),
        Defaults(False, True),
    ),
}


def test_every_family_round_trips_exactly() -> None:
    for key, value in ENTRIES.items():
        assert codec.decode_entry(codec.encode_entry(key, value)) == (key, value)
        assert codec.decode_key(codec.encode_key(key)) == key


def test_a_concatenated_update_parses_as_the_same_message() -> None:
    encoded = [codec.wire_entry(k, v).framed for k, v in ENTRIES.items()]
    removal = ("endpoint", "d1", "gone")
    raw = codec.update_message(7, snapshot=True, upserts=encoded, removals=[removal], digest=42)
    message = pb.ControllerMessage.FromString(raw)
    assert message.WhichOneof("body") == "update"
    update = message.update
    assert (update.revision, update.snapshot, update.digest) == (7, True, 42)
    assert dict(codec.decode_entry(e) for e in update.upserts) == ENTRIES
    assert [codec.decode_key(k) for k in update.removals] == [removal]


def _update(
    revision: int, entries: dict, *, snapshot: bool, removals=(), digest: int | None = None
) -> pb.Update:
    raw = codec.update_message(
        revision,
        snapshot=snapshot,
        upserts=[codec.wire_entry(k, v).framed for k, v in entries.items()],
        removals=removals,
        digest=digest if digest is not None else 0,
    )
    return pb.ControllerMessage.FromString(raw).update


def test_host_state_applies_atomically_and_checks_the_digest() -> None:
    state = HostState("h1")
    snapshot = _update(1, ENTRIES, snapshot=True, digest=codec.digest_of(ENTRIES.items()))
    state.commit(snapshot, *state.prepare(snapshot))
    assert state.entries == ENTRIES and state.revision == 1
    assert state.endpoint("v1") == ("d1", ENTRIES[("endpoint", "d1", "v1")])
    assert state.endpoint("v2") is None  # runs on h2

    moved = Endpoint("v1", "02:00:00:00:00:01", "10.0.0.2", "s1", "z1", "h3", "192.0.2.3")
    after = {**ENTRIES, ("endpoint", "d1", "v1"): moved}
    del after[("member", "d1", "pg:g1", "03")]
    good = _update(
        2,
        {("endpoint", "d1", "v1"): moved},
        snapshot=False,
        removals=[("member", "d1", "pg:g1", "03")],
        digest=codec.digest_of(after.items()),
    )
    wrong_digest = _update(2, {("endpoint", "d1", "v1"): moved}, snapshot=False, digest=12345)
    with pytest.raises(StateError, match="digest mismatch"):
        state.prepare(wrong_digest)
    unknown = _update(2, {}, snapshot=False, removals=[("member", "d1", "pg:g9", "07")])
    with pytest.raises(StateError, match="not held"):
        state.prepare(unknown)
    assert state.entries == ENTRIES and state.revision == 1  # refused updates changed nothing
    state.commit(good, *state.prepare(good))
    assert state.entries == after and state.revision == 2
    assert state.endpoint("v1") is None  # it moved to h3
    assert state.digest == codec.digest_of(after.items())
