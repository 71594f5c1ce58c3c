"""The dataplane driver interface: one interface, two implementations (Linux, memory).

Felix-style: the agent hands the driver each committed change of the desired state together
with the whole state; the driver makes its datapath match and raises :class:`DataplaneError`
if it cannot (the agent then reports the failure to the controller). Local wiring of an
endpoint (which network namespace its interface goes into) comes from the local API as an
:class:`Attachment`; the driver plumbs it once the desired state says the endpoint runs here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..agent.state import Change
from ..policy.compiler import Key


class DataplaneError(Exception):
    pass


@dataclass(frozen=True)
class Attachment:
    """Where an endpoint's interface lives on this host."""

    vport_id: str
    mac: str
    netns: str | None = None  # a network namespace name or path; None: no local plumbing
    ifname: str = "eth0"


class Dataplane(ABC):
    #: Whether apply() blocks on the kernel (the agent then runs it in a worker thread).
    blocking = False

    @abstractmethod
    def apply(self, state: Mapping[Key, Any], change: Change) -> None:
        """Make the datapath match ``state``; ``change`` says what changed since the last call."""

    @abstractmethod
    def attach(self, attachment: Attachment) -> None:
        """Remember where an endpoint's interface goes (plumbed when the state has it)."""

    @abstractmethod
    def detach(self, vport_id: str) -> None:
        """Forget an endpoint's local wiring and remove its interface."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-able summary of what the datapath holds (for the state dump)."""
