"""Compliance in the directory: every write that can change reachability is judged, in its own
transaction, against the compliance policies of the enterprises it touches (and the operator's
CSP-wide ones); a write that adds a violation of an ``ENFORCE`` policy is refused with 409
naming the sentence, an example flow and the entries that allow it — nothing is written. The
violations of every policy are kept as ``complianceviolation`` objects (so they list, page and
push like anything else): what a write adds and removes is written with it.

Evaluation (:mod:`overcast.compliance.evaluate`) is pure; this module reads the judged
enterprises' objects from the transaction and writes the outcome. Writes of one enterprise are
serialised while judged (a named lock held to the commit), so two writes that are each
harmless cannot commit a violation together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..compliance.evaluate import Judge, Violation, World, build_world, evaluate, unresolved
from ..compliance.language import SentenceError, parse_policy
from ..policy.compiler import PolicyInput
from ..policy.engine import POLICY_KINDS
from .errors import VsdError, invalid
from .objects import Obj
from .schema import MEMBER_RELATIONS

if TYPE_CHECKING:
    from .operations import Operations

#: Writes of these kinds can change what is allowed (containers' and hosts' own records, which
#: agents write all the time, cannot: every endpoint is judged as if it ran).
JUDGED_KINDS = frozenset(POLICY_KINDS) - {"container", "vm", "vrs", "statisticspolicy"} | {
    "appdapplication",
    "appdtier",
    "appdflow",
    "appdflowsecuritypolicy",
    "appdservice",
    "compliancepolicy",
    "enterprise",  # its name is a selector
}
#: What the judged world is read from, besides the policy kinds: names for selectors.
_NAME_KINDS = ("enterprise", "appdapplication", "appdtier", "appdservice")
_WORLD_KINDS = tuple(sorted((set(POLICY_KINDS) - {"vrs"}) | set(_NAME_KINDS)))


class ComplianceRefusal(VsdError):
    def __init__(self, description: str) -> None:
        super().__init__(409, "Compliance violation", description, code=2620)


def check_text(text: str) -> list[str]:
    """A policy's text parses (else 409 naming the line and what was expected)."""
    try:
        return [s.text for s in parse_policy(text)]
    except SentenceError as exc:
        raise invalid("text", f"The policy does not parse: {exc}") from None


# --- reading the judged world -----------------------------------------------------------------


def policy_input(ops: Operations, enterprise_ids: Iterable[str] | None) -> PolicyInput:
    """The objects of the enterprises (None: every enterprise) as the compiler reads them, with
    the names selectors use, from this transaction (its own writes included)."""
    state = PolicyInput()
    wanted = list(enterprise_ids) if enterprise_ids is not None else None
    found: list[Obj] = []
    if wanted is None:
        found = ops.tx.select_kinds(_WORLD_KINDS)
    else:
        for enterprise_id in wanted:
            found += ops.tx.select_kinds_in_enterprise(_WORLD_KINDS, enterprise_id)
            enterprise = ops.tx.get(enterprise_id)
            if enterprise is not None:
                found.append(enterprise)
    for obj in found:
        if obj.id not in ops.doomed:  # the stored attributes only: every unset one as null cost
            state.add(
                obj.kind, {**obj.data, "ID": obj.id, "parentID": obj.parent_id, "parentType": obj.parent_type}
            )
    for relation, (parent_kind, _child) in MEMBER_RELATIONS.items():
        for group in state.of(parent_kind):
            state.members[group["ID"]] = frozenset(ops.tx.member_ids(relation, group["ID"], of_parent=True))
    return state


# --- judging a write --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a write does to one policy's violations."""

    policy: Obj
    added: list[Violation] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    current: list[Violation] = field(default_factory=list)


def touched_enterprises(ops: Operations) -> set[str | None] | None:
    """The enterprises whose reachability this transaction's changes may alter (None inside:
    the operator's own objects), or None when nothing judged changed."""
    touched = {c.obj.enterprise_id for c in ops.tx.changes if c.obj.kind in JUDGED_KINDS}
    return touched if touched else None


def policies_for(ops: Operations, enterprises: set[str | None]) -> list[Obj]:
    policies = [p for p in ops.tx.select_kinds(("compliancepolicy",)) if p.id not in ops.doomed]
    return [p for p in policies if p.enterprise_id is None or p.enterprise_id in enterprises]


def judge(ops: Operations, *, enterprises: set[str | None] | None = None) -> list[Outcome]:
    """Each affected policy's violations after this transaction's changes, against those it
    recorded before."""
    touched = touched_enterprises(ops) if enterprises is None else enterprises
    if not touched:
        return []
    policies = policies_for(ops, touched)
    if not policies:
        return []
    for name in sorted({p.enterprise_id or "*" for p in policies}):
        ops.tx.lock_name(f"compliance:{name}")
    worlds: dict[str | None, tuple[World, Judge]] = {}
    outcomes = []
    for policy in policies:
        scope = policy.enterprise_id
        if scope not in worlds:  # one world and one judge (its decisions) for a scope's policies
            world = build_world(policy_input(ops, None if scope is None else [scope]))
            worlds[scope] = (world, Judge(world))
        world, shared = worlds[scope]
        sentences = parse_policy(policy.data.get("text") or "")
        current = evaluate(world, sentences, judge=shared)
        recorded = {str(v.data.get("key")): v for v in ops.tx.children(policy.id, "complianceviolation")}
        now = {v.key: v for v in current}
        outcome = Outcome(policy, current=current, warnings=unresolved(world, sentences))
        outcome.added = [v for k, v in now.items() if k not in recorded]
        outcome.removed = [_json(o) for k, o in recorded.items() if k not in now]
        outcomes.append(outcome)
    return outcomes


def _json(obj: Obj) -> dict[str, Any]:
    return {**obj.data, "ID": obj.id}


def gate(ops: Operations) -> bool:
    """Refuse the transaction if it adds a violation of an ENFORCE policy (unless the write is
    that policy's own: a new or changed policy records what it finds); else record what
    changed. Returns whether any policy was judged."""
    outcomes = judge(ops)
    changed_policies = {c.obj.id for c in ops.tx.changes if c.obj.kind == "compliancepolicy"}
    for outcome in outcomes:
        policy = outcome.policy
        if policy.data.get("mode") == "ENFORCE" and outcome.added and policy.id not in changed_policies:
            raise ComplianceRefusal(describe_refusal(ops, policy, outcome.added[0], len(outcome.added)))
    for outcome in outcomes:
        record(ops, outcome)
    return bool(outcomes)


def record(ops: Operations, outcome: Outcome) -> None:
    policy = outcome.policy
    for gone in outcome.removed:
        obj = ops.tx.get(gone["ID"])
        if obj is not None:
            ops.tx.remove(obj)
            ops.tx.record("DELETE", obj)
    for violation in outcome.added:
        ops.create_internal(policy, "complianceviolation", violation_body(ops, violation))
    summary = {"violationCount": len(outcome.current), "warnings": "; ".join(outcome.warnings) or None}
    if any(policy.data.get(k) != v for k, v in summary.items()):
        policy.data.update(summary)
        ops.touch(policy)


def _entry_text(ops: Operations, decision: Any, direction: str) -> str:
    if decision is None:
        return "-"
    entry = ops.tx.get(_entry_id(ops, decision) or "") if _entry_id(ops, decision) else None
    if entry is None:
        return f"{direction}: {decision.decided_by}"
    template = ops.tx.get(entry.parent_id) if entry.parent_id else None
    name = entry.data.get("description") or entry.id
    where = f" of '{template.data.get('name')}'" if template is not None else ""
    return f"{direction} entry '{name}' (priority {entry.data.get('priority')}{where})"


def violation_body(ops: Operations, violation: Violation) -> dict[str, Any]:
    return {
        "key": violation.key,
        "line": violation.line,
        "sentence": violation.sentence,
        "source": violation.source,
        "destination": violation.destination,
        "protocol": violation.protocol,
        "reason": violation.reason,
        "pairCount": violation.pairs,
        "ingressEntryID": _entry_id(ops, violation.ingress),
        "egressEntryID": _entry_id(ops, violation.egress),
        "decidedBy": "; ".join(
            (_entry_text(ops, violation.ingress, "ingress"), _entry_text(ops, violation.egress, "egress"))
        ),
    }


def _entry_id(ops: Operations, decision: Any) -> str | None:
    """The deciding entry's ID (None: a default, the outside, or no entry decided)."""
    if decision is None or decision.decided_by in ("default", "outside"):
        return None
    return str(decision.decided_by) if ops.tx.get(decision.decided_by) is not None else None


def describe_refusal(ops: Operations, policy: Obj, violation: Violation, count: int) -> str:
    more = f" (and {count - 1} more)" if count > 1 else ""
    verb = "would be allowed by" if violation.reason == "allowed" else "would not be allowed:"
    return (
        f"Compliance policy '{policy.data.get('name')}', line {violation.line} ('{violation.sentence}'): "
        f"{violation.source} → {violation.destination} {violation.protocol} {verb} "
        f"{_entry_text(ops, violation.ingress, 'ingress')}, "
        f"{_entry_text(ops, violation.egress, 'egress')}{more}."
    )
