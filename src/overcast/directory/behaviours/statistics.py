"""Statistics policies: whether an object's statistics (and those of everything beneath it) are
collected. ``dataCollectionFrequency`` 0 turns collection off; any other value keeps it on
(the agents' ``--stats-interval`` fixes the finest resolution: 10 s by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import invalid
from ..objects import Obj
from .base import Behaviour

if TYPE_CHECKING:
    from ..operations import Operations

#: The longest collection period VSD offers (a day), in seconds.
MAX_FREQUENCY = 86_400


class StatisticsPolicyBehaviour(Behaviour):
    def prepare(self, ops: Operations, obj: Obj, parent: Obj | None, old: Obj | None) -> None:
        frequency = obj.data.get("dataCollectionFrequency")
        if (
            isinstance(frequency, bool)
            or not isinstance(frequency, int)
            or not 0 <= frequency <= MAX_FREQUENCY
        ):
            raise invalid(
                "dataCollectionFrequency",
                "dataCollectionFrequency must be a number of seconds "
                f"from 0 (collection off) to {MAX_FREQUENCY}.",
            )
