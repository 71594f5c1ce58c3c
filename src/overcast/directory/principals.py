"""Who is calling, and what they may see: the one visibility rule that reads, listings,
references and the push channel share, and the audience of a commit (which tenants' long polls
it may wake)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .schema import REGISTRY

SYSTEM_USER = "system"


@dataclass(frozen=True)
class Principal:
    """Who is calling: csproot-like operators see everything, others their enterprise only."""

    user_id: str
    user_name: str
    enterprise_id: str | None
    enterprise_name: str
    role: str
    is_operator: bool


SYSTEM = Principal(SYSTEM_USER, "system", None, "CSP", "CSPROOT", True)


#: In an audience (see :func:`audience_of`): a change every tenant may see (a global object).
EVERYONE = "*"


def visible_to(principal: Principal, kind: str, enterprise_id: str | None) -> bool:
    """Whether ``principal`` may see an object (or a change of one) of ``kind`` in
    ``enterprise_id``: the one rule reads, listings and the push channel share."""
    if principal.is_operator:
        return True
    if enterprise_id is None:
        return REGISTRY.entity(kind).global_scope
    return enterprise_id == principal.enterprise_id


def audience_of(changed: Iterable[tuple[str, str | None]]) -> frozenset[str]:
    """Who besides the operator may see some of a commit's changes, given as (kind, enterprise):
    their enterprises, and :data:`EVERYONE` for a global object. A root object no tenant sees
    (a ``vrs``) adds nobody."""
    audience = set()
    for kind, enterprise_id in changed:
        if enterprise_id is not None:
            audience.add(enterprise_id)
        elif REGISTRY.entity(kind).global_scope:
            audience.add(EVERYONE)
    return frozenset(audience)


def can_see_audience(principal: Principal, audience: frozenset[str]) -> bool:
    return principal.is_operator or EVERYONE in audience or principal.enterprise_id in audience
