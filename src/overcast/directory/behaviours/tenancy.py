"""Enterprises and users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import conflict, invalid
from ..objects import Obj
from .base import Behaviour

if TYPE_CHECKING:
    from ..operations import Operations


class EnterpriseBehaviour(Behaviour):
    def enterprise_of(self, ops: Operations, parent: Obj | None, obj: Obj) -> str | None:
        return obj.id

    def links(self, obj: Obj) -> list[str]:
        return []

    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        if old is None:
            obj.data["customerID"] = ops.tx.allocate("customerID")
            obj.data.setdefault("enterpriseType", "NORMAL")
            obj.data["floatingIPsUsed"] = 0

    def check_delete(self, ops: Operations, obj: Obj, doomed: set[str]) -> None:
        if obj.data.get("enterpriseType") == "CSP":
            raise conflict("The operator enterprise cannot be deleted.", title="Invalid operation")

    def extra_doomed(self, ops: Operations, obj: Obj) -> list[Obj]:
        # Containers and VMs live at the root; they belong to the enterprise of their vports.
        # Permissions naming it on shared resources go too (else a pool kept for it alone).
        endpoints = ops.tx.select_kinds_in_enterprise(("container", "vm"), obj.id)
        return endpoints + ops.tx.find("enterprisepermission", "permittedEntityID", obj.id)


class UserBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        password = obj.data.pop("password", None)
        if password is not None:
            ops.set_password(obj, str(password))
        elif old is None:
            raise invalid("password", "This value is mandatory.")
        email = obj.data.get("email")
        if email and "@" not in email:
            raise invalid("email", f"'{email}' is not an e-mail address.")
        if obj.data.get("disabled") and old is not None and not old.data.get("disabled"):
            ops.revoke_keys(obj.id)  # a disabled user's sessions end now, not at their expiry

    def on_delete(self, ops: Operations, obj: Obj) -> None:
        if obj.id == ops.principal.user_id:
            raise conflict("A user cannot delete itself.", title="Invalid operation")
        ops.forget_credentials(obj.id)
