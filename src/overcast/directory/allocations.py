"""The transaction's allocations: counters (VNIs, tags, the revision), locks on names, and the
addresses and MACs of networks — unique within a network, never handed out twice.

Part of :class:`~overcast.directory.transaction.Transaction` (a mixin over its state)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from . import ipam
from .backends import Backend
from .db import addresses, counters, macs
from .errors import conflict
from .objects import Obj


class Allocations:
    conn: Connection
    backend: Backend
    bulk: bool
    _highest: dict[str, int | None]
    _locked: set[str]
    _mac_sets: dict[str, set[str]]
    _new_addresses: list[dict[str, Any]]
    _new_macs: list[dict[str, Any]]
    _mark: int | None

    if TYPE_CHECKING:

        def flush(self) -> None: ...

        def get(self, object_id: str | None, *, lock: bool = False) -> Obj | None: ...

    def _ensure_counter(self, name: str, start: int) -> None:
        self.conn.execute(self.backend.insert_ignoring_conflicts(counters).values(name=name, value=start))

    def allocate(self, counter: str) -> int:
        """The next value of a system-wide counter (``GLOBAL_COUNTERS``): unique, never reused."""
        return self.backend.allocate(self.conn, counter, self.next_value)

    def next_value(self, name: str, start: int = 1, count: int = 1) -> int:
        """Take ``count`` consecutive values of a named counter; the first is returned.

        The ``UPDATE`` row-locks the counter until commit, which is what serialises writers
        that share one (the per-domain policy-group tags, the change-log revision).
        """
        bumped = self.conn.execute(
            update(counters)
            .where(counters.c.name == name)
            .values(value=counters.c.value + count)
            .returning(counters.c.value)
        ).scalar()
        if bumped is not None:
            return int(bumped) - count
        # First use; on PostgreSQL a concurrent first use fails one writer (23505), retried.
        self.conn.execute(insert(counters).values(name=name, value=start + count))
        return start

    def lock_name(self, name: str) -> None:
        """Serialise writers on a name (e.g. uniqueness across the whole system)."""
        key = f"lock:{name}"
        if key not in self._locked and self.backend.lock_name(self.conn, key, self._ensure_counter):
            self._locked.add(key)

    def allocate_address(
        self,
        network_obj: Obj,
        network: ipaddress.IPv4Network,
        owner_id: str,
        *,
        requested: str | None,
        reserved: set[int],
    ) -> str:
        """Reserve ``requested`` or the next free address of a network, for ``owner_id``."""
        self.get(network_obj.id, lock=True)  # serialise allocators of this network
        if requested:
            value = ipam.check_requested(network, requested, reserved)
            if self.address_in_use(network_obj.id, value):
                raise conflict(f"IP address {requested} is already in use.", prop="IPAddress")
        else:
            if network_obj.id not in self._highest:
                self._highest[network_obj.id] = self.conn.execute(
                    select(func.max(addresses.c.address)).where(addresses.c.network_id == network_obj.id)
                ).scalar()
            highest = self._highest[network_obj.id]
            chosen = ipam.pick_free(network, reserved, highest, lambda: self._used(network_obj.id))
            if chosen is None:
                raise conflict(
                    f"No free IP address left in {network} ({network_obj.data.get('name')}).",
                    prop="IPAddress",
                    title="Address pool exhausted",
                )
            value = chosen
        row = {"network_id": network_obj.id, "address": value, "owner_id": owner_id}
        if self._deferring:
            self._new_addresses.append(row)
        else:
            self.conn.execute(insert(addresses).values(**row))
        current = self._highest.get(network_obj.id)
        if network_obj.id in self._highest and (current is None or value > current):
            self._highest[network_obj.id] = value
        return ipam.to_text(value)

    @property
    def _deferring(self) -> bool:
        """Whether reservations may wait for the flush: a bulk create outside savepoints (its
        all-or-nothing attempt; a failure rolls the whole transaction back)."""
        return self.bulk and self._mark is None

    def _used(self, network_id: str) -> list[int]:
        self.flush()
        rows = self.backend.execute(
            self.conn, "SELECT address FROM addresses WHERE network_id = ?", [network_id]
        )
        return [r[0] for r in rows]

    def reserve_mac(self, network_id: str, mac: str, owner_id: str) -> bool:
        """Take a MAC in an L2 network for ``owner_id``; False when another holds it."""
        if self._deferring:
            taken = self._mac_sets.get(network_id)
            if taken is None:
                self.flush()
                rows = self.backend.execute(
                    self.conn, "SELECT mac FROM macs WHERE network_id = ?", [network_id]
                )
                taken = self._mac_sets[network_id] = {r[0] for r in rows}
            if mac in taken:
                return False
            taken.add(mac)
            self._new_macs.append({"network_id": network_id, "mac": mac, "owner_id": owner_id})
            return True
        inserted = self.conn.execute(
            self.backend.insert_ignoring_conflicts(macs).returning(macs.c.mac),
            {"network_id": network_id, "mac": mac, "owner_id": owner_id},
        ).first()
        return inserted is not None

    def address_in_use(self, network_id: str, value: int) -> bool:
        self.flush()
        return (
            self.conn.execute(
                select(addresses.c.owner_id).where(
                    addresses.c.network_id == network_id, addresses.c.address == value
                )
            ).first()
            is not None
        )

    def count_addresses(self, network_id: str) -> int:
        self.flush()
        return int(
            self.conn.execute(
                select(func.count()).select_from(addresses).where(addresses.c.network_id == network_id)
            ).scalar_one()
        )
