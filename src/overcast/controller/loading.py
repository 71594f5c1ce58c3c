"""Reading the directory's store into the compiler's plain-data input (the I/O edge)."""

from __future__ import annotations

from sqlalchemy import select

from ..directory.db import Store, members, objects
from ..directory.transaction import row_to_obj
from ..policy.compiler import PolicyInput

#: What the compiler reads; everything else in the directory is irrelevant to the datapath.
POLICY_KINDS = (
    "domain",
    "l2domain",
    "zone",
    "subnet",
    "vport",
    "policygroup",
    "containerinterface",
    "vminterface",
    "ingressacltemplate",
    "egressacltemplate",
    "ingressaclentrytemplate",
    "egressaclentrytemplate",
    "enterprisenetwork",
    "networkmacrogroup",
)


def load_policy_input(
    store: Store, *, placement: dict[str, str] | None = None, hosts: dict[str, str] | None = None
) -> PolicyInput:
    """A consistent snapshot (one read transaction) of everything the compiler needs."""
    state = PolicyInput(placement=dict(placement or {}), hosts=dict(hosts or {}))
    with store.read() as conn:
        for row in conn.execute(select(objects).where(objects.c.kind.in_(POLICY_KINDS))):
            obj = row_to_obj(row)
            state.add(obj.kind, obj.to_json())
        grouped: dict[str, set[str]] = {}
        for row in conn.execute(select(members)):
            grouped.setdefault(row.parent_id, set()).add(row.child_id)
    state.members = {k: frozenset(v) for k, v in grouped.items()}
    return state
