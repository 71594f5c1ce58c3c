"""The wire codec and the agent's atomic, digest-checked state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overcast.agent.state import HostState, StateError
from overcast.dataplane.change import compose
from overcast.dataplane.memory import MemoryDataplane
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
    state.commit(state.prepare(snapshot))
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
    state.commit(state.prepare(good))
    assert state.entries == after and state.revision == 2
    assert state.endpoint("v1") is None  # it moved to h3
    assert state.digest == codec.digest_of(after.items())


MEMBER_KEYS = [("member", "d1", "pg:g1", f"{bucket:02x}") for bucket in range(4)]
MEMBER_VALUES = [frozenset({f"10.0.0.{n}/32"}) for n in range(3)]


@st.composite
def _delta_sequences(draw: st.DrawFn) -> list[tuple[bool, dict, list]]:
    """Consecutive updates over a few keys: (snapshot, upserts, removals of held keys)."""
    held: dict = {}
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        snapshot = draw(st.booleans()) if steps else True
        upserts = draw(st.dictionaries(st.sampled_from(MEMBER_KEYS), st.sampled_from(MEMBER_VALUES)))
        if snapshot:
            held = dict(upserts)
            steps.append((True, upserts, []))
            continue
        removals = draw(st.lists(st.sampled_from(sorted(held)), unique=True)) if held else []
        for key in removals:
            del held[key]
        held.update(upserts)
        steps.append((False, upserts, removals))
    return steps


@settings(max_examples=150, deadline=None)
@given(_delta_sequences())
def test_updates_prepared_together_and_composed_equal_applying_them_one_by_one(steps) -> None:
    updates, entries = [], {}
    for revision, (snapshot, upserts, removals) in enumerate(steps, start=1):
        entries = dict(upserts) if snapshot else {k: v for k, v in entries.items() if k not in removals}
        entries.update(upserts)
        digest = codec.digest_of(entries.items())
        updates.append(_update(revision, upserts, snapshot=snapshot, removals=removals, digest=digest))

    one_by_one, one_by_one_plane = HostState("h1"), MemoryDataplane("h1")
    for update in updates:
        prepared = one_by_one.prepare(update)
        one_by_one_plane.apply(prepared.change)
        one_by_one.commit(prepared)

    together, together_plane = HostState("h1"), MemoryDataplane("h1")
    prepared_all, refused = together.prepare_many(updates)
    assert refused is None and together.revision == 0  # preparing changed nothing
    together_plane.apply(compose([p.change for p in prepared_all]))
    for prepared in prepared_all:
        together.commit(prepared)

    assert together.entries == one_by_one.entries == entries
    assert together.digest == one_by_one.digest and together.revision == len(updates)
    assert together_plane.raw == one_by_one_plane.raw


def test_preparing_many_stops_at_the_first_refused_update() -> None:
    state = HostState("h1")
    first = {MEMBER_KEYS[0]: MEMBER_VALUES[0]}
    second = {**first, MEMBER_KEYS[1]: MEMBER_VALUES[1]}
    updates = [
        _update(1, first, snapshot=True, digest=codec.digest_of(first.items())),
        _update(
            2, {MEMBER_KEYS[1]: MEMBER_VALUES[1]}, snapshot=False, digest=codec.digest_of(second.items())
        ),  # noqa: E501
        _update(3, {}, snapshot=False, removals=[MEMBER_KEYS[2]], digest=0),  # not held
        _update(4, {}, snapshot=False, digest=codec.digest_of(second.items())),
    ]
    prepared, refused = state.prepare_many(updates)
    assert [p.update.revision for p in prepared] == [1, 2]
    assert isinstance(refused, StateError) and "not held" in str(refused)
    assert state.revision == 0 and state.raw == {}
