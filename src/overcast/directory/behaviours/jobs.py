"""Jobs, and the one family they run here: atomic policy changes (VSD's draft mode).

``POST /domains/{id}/jobs {"command": "BEGIN_POLICY_CHANGES"}`` copies every live ACL template
of the domain (or domain template) with its entries into a draft (``policyState`` DRAFT,
``associatedLiveEntityID`` naming the live object, the name suffixed " (draft)") and marks the
domain ``policyChangeStatus`` STARTED. While it is open, edits go to the drafts (live templates
and entries refuse them, 409) and templates created in the domain are drafts; the compiler
reads live policies only, so hosts see nothing of the drafts. ``APPLY_POLICY_CHANGES``
publishes every draft onto its live template in one transaction — entries that did not change
keep their IDs, the rest are replaced — so the controllers see one change and every host moves
from the old policy to the new in one update; compliance judges the published policy as a
whole in that transaction. ``DISCARD_POLICY_CHANGES`` deletes the drafts. Jobs run to the end
in the request that creates them (``status`` SUCCESS, ``result`` counting what changed); a
job that cannot run is refused with a VSD error and leaves nothing.

Templates an application deployed are not drafted: the application designer changes them
itself, at once (its own changes are whole in each write).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ...appd.compile import owner_of
from ..errors import conflict, invalid
from ..objects import Obj
from .base import Behaviour

if TYPE_CHECKING:
    from ..operations import Operations

POLICY_COMMANDS = ("BEGIN_POLICY_CHANGES", "APPLY_POLICY_CHANGES", "DISCARD_POLICY_CHANGES")
TEMPLATE_KINDS = ("ingressacltemplate", "egressacltemplate")
DRAFT_SUFFIX = " (draft)"
SCOPES = ("domain", "domaintemplate")


@contextmanager
def publishing(ops: Operations) -> Iterator[None]:
    """Writes of a policy job itself: live policies may change while a draft is open."""
    outer, ops.publishing = ops.publishing, True
    try:
        yield
    finally:
        ops.publishing = outer


def drafting(scope: Obj | None) -> bool:
    return scope is not None and scope.data.get("policyChangeStatus") == "STARTED"


def check_live_edit(ops: Operations, template: Obj, what: str) -> None:
    """Refuse a client's change to a live policy while its domain has a draft open."""
    if ops.publishing or ops.reconciling or template.data.get("policyState") == "DRAFT":
        return
    scope = ops.tx.get(template.parent_id) if template.parent_id else None
    if drafting(scope) and scope is not None and scope.id not in ops.doomed:
        raise conflict(
            f"A policy change is open on {scope.kind} '{scope.data.get('name')}': {what} its draft copy "
            f"('{template.data.get('name')}{DRAFT_SUFFIX}'), then apply or discard the change.",
            title="Policy change in progress",
        )


def _copyable(ops: Operations, obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.data.items() if k not in ops.readonly_of(obj.kind) and v is not None}


def _mark(ops: Operations, obj: Obj, **fields: Any) -> None:
    obj.data.update(fields)
    ops.touch(obj)


def _entry_kind(template_kind: str) -> str:
    return template_kind.replace("acltemplate", "aclentrytemplate")


def _templates(ops: Operations, scope: Obj, state: str) -> list[Obj]:
    return [
        t
        for kind in TEMPLATE_KINDS
        for t in ops.tx.children(scope.id, kind)
        if (t.data.get("policyState") or "LIVE") == state and owner_of(t.data.get("externalID")) is None
    ]


def begin(ops: Operations, scope: Obj) -> dict[str, Any]:
    if drafting(scope):
        raise conflict(
            f"A policy change is already open on {scope.kind} '{scope.data.get('name')}'.",
            title="Policy change in progress",
        )
    copied = 0
    for live in _templates(ops, scope, "LIVE"):
        data = _copyable(ops, live)
        data["name"] = f"{live.data.get('name')}{DRAFT_SUFFIX}"
        draft = ops.create_internal(scope, live.kind, data)
        _mark(ops, draft, policyState="DRAFT", associatedLiveEntityID=live.id)
        kind = _entry_kind(live.kind)
        for entry in ops.tx.children(live.id, kind):
            copy = ops.create_internal(draft, kind, _copyable(ops, entry))
            _mark(ops, copy, associatedLiveEntityID=entry.id)
            copied += 1
    _mark(ops, scope, policyChangeStatus="STARTED")
    return {"draftTemplates": len(_templates(ops, scope, "DRAFT")), "draftEntries": copied}


def _open(scope: Obj, command: str) -> None:
    if not drafting(scope):
        raise conflict(
            f"No policy change is open on {scope.kind} '{scope.data.get('name')}': {command} needs "
            "BEGIN_POLICY_CHANGES first.",
            title="No policy change in progress",
        )


def apply(ops: Operations, scope: Obj) -> dict[str, Any]:
    _open(scope, "APPLY_POLICY_CHANGES")
    counts = {"created": 0, "updated": 0, "deleted": 0, "kept": 0}
    drafts = _templates(ops, scope, "DRAFT")
    by_live = {
        d.data.get("associatedLiveEntityID"): d for d in drafts if d.data.get("associatedLiveEntityID")
    }
    for live in _templates(ops, scope, "LIVE"):
        draft = by_live.get(live.id)
        if draft is None:  # deleted in the draft
            ops.delete(live, confirmed=True)
            counts["deleted"] += 1
            continue
        _publish_entries(ops, draft, live, counts)
        wanted = _copyable(ops, draft)
        wanted["name"] = str(wanted.get("name", "")).removesuffix(DRAFT_SUFFIX)
        changed = {k: v for k, v in wanted.items() if live.data.get(k) != v}
        ops.delete(draft, confirmed=True)
        if changed:
            ops.update(live, changed, confirmed=True)
            counts["updated"] += 1
    for draft in drafts:
        if not draft.data.get("associatedLiveEntityID"):  # new in the draft: it goes live
            _mark(ops, draft, policyState="LIVE")
            for entry in ops.tx.children(draft.id, _entry_kind(draft.kind)):
                _mark(ops, entry, policyState="LIVE")
                counts["created"] += 1
    _mark(ops, scope, policyChangeStatus="APPLIED")
    return counts


def _publish_entries(ops: Operations, draft: Obj, live: Obj, counts: dict[str, int]) -> None:
    """The live template's entries made equal to the draft's: unchanged ones kept (their IDs
    and counters too), changed ones updated in place when their priority stays, else
    replaced."""
    kind = _entry_kind(live.kind)
    current = {e.id: e for e in ops.tx.children(live.id, kind)}
    drafted = ops.tx.children(draft.id, kind)
    matched = {
        e.data.get("associatedLiveEntityID"): e
        for e in drafted
        if e.data.get("associatedLiveEntityID") in current
    }
    replace = [
        e
        for i, e in current.items()
        if i not in matched or matched[i].data.get("priority") != e.data.get("priority")
    ]
    for entry in replace:
        ops.delete(entry, confirmed=True)
        counts["deleted"] += 1
    for entry in drafted:
        target = current.get(entry.data.get("associatedLiveEntityID") or "")
        wanted = _copyable(ops, entry)
        if target is not None and target not in replace:
            changed = {k: v for k, v in wanted.items() if target.data.get(k) != v}
            if changed:
                ops.update(target, changed, confirmed=True)
                counts["updated"] += 1
            else:
                counts["kept"] += 1
        else:
            ops.create_internal(live, kind, wanted)
            counts["created"] += 1


def discard(ops: Operations, scope: Obj) -> dict[str, Any]:
    _open(scope, "DISCARD_POLICY_CHANGES")
    drafts = _templates(ops, scope, "DRAFT")
    for draft in drafts:
        ops.delete(draft, confirmed=True)
    _mark(ops, scope, policyChangeStatus="DISCARDED")
    return {"discardedTemplates": len(drafts)}


class JobBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is not None:
            raise conflict("A job cannot be changed once run.", title="Invalid input")
        command = obj.data.get("command")
        if command not in POLICY_COMMANDS:
            raise invalid(
                "command", f"This directory runs the jobs {', '.join(POLICY_COMMANDS)}; not {command}."
            )
        if parent is None or parent.kind not in SCOPES:
            raise invalid("command", f"{command} runs on a domain or a domain template.")

    def after_create(self, ops: Operations, obj: Obj, parent: Obj | None) -> None:
        assert parent is not None
        run = {
            "BEGIN_POLICY_CHANGES": begin,
            "APPLY_POLICY_CHANGES": apply,
            "DISCARD_POLICY_CHANGES": discard,
        }
        with publishing(ops):
            result = run[obj.data["command"]](ops, parent)
        _mark(ops, obj, status="SUCCESS", progress=1.0, result=result, assocEntityType=parent.kind)
