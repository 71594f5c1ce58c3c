"""The dataplane driver interface: one interface, two implementations (Linux, memory).

Felix-style: the agent hands the driver each change of the desired state before committing it
(a snapshot carries the whole state and what to remove); the driver makes its datapath match
and raises :class:`DataplaneError` if it cannot — the agent then keeps its previous state and
reports the failure to the controller. Local wiring of an
endpoint (which network namespace its interface goes into) comes from the local API as an
:class:`Attachment`; the driver plumbs it once the desired state says the endpoint runs here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .change import Change


class DataplaneError(Exception):
    pass


@dataclass(frozen=True)
class Attachment:
    """Where an endpoint's interface lives on this host."""

    vport_id: str
    mac: str
    netns: str | None = None  # a network namespace name or path; None: no local plumbing
    ifname: str = "eth0"
    #: Give the interface its address and route. False when the runtime does it itself (Docker
    #: moves the interface into the container and configures it from the driver's answers).
    configure: bool = True


class Dataplane(ABC):
    #: Whether apply() blocks on the kernel (the agent then runs it in a worker thread).
    blocking = False
    #: Told the packets the datapath logged (domain ID, packets), from any thread; None: the
    #: datapath need not read its logs. Set before the first apply.
    on_flows: Callable[[str, list[Any]], None] | None = None
    #: Where each attached endpoint's interface lives, by vport (what attach() remembered).
    attachments: dict[str, Attachment]

    @abstractmethod
    def apply(self, change: Change) -> None:
        """Make the datapath follow ``change`` (all of it, or raise and change nothing)."""

    @abstractmethod
    def attach(self, attachment: Attachment) -> None:
        """Remember where an endpoint's interface goes (plumbed when the state has it)."""

    def attachment(self, vport_id: str) -> Attachment | None:
        """Where an attached endpoint's interface lives (None: not attached here)."""
        return self.attachments.get(vport_id)

    @abstractmethod
    def detach(self, vport_id: str) -> None:
        """Forget an endpoint's local wiring and remove its interface."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-able summary of what the datapath holds (for the state dump)."""

    def counters(self) -> dict[str, dict[str, Any]]:
        """What the datapath counted, cumulative since each counter began: domain ID ->
        ``ingress``/``egress`` -> entry ID (or "default") -> [packets, bytes], each entry's
        rules summed; and ``endpoints`` -> vport ID -> ``sent``/``received``/``dropped_sent``/
        ``dropped_received`` -> [packets, bytes]. Empty where nothing counts packets."""
        return {}
