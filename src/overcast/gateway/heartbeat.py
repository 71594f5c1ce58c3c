"""How a gateway's record in the directory says it is alive.

A gateway records its BGP sessions only when they change, and otherwise refreshes its record
every :data:`HEARTBEAT_MS` (one small write, a change-log row that controllers skip). A gateway
killed with -9 cannot say it is gone; a record older than :data:`STALE_AFTER_MS` (three missed
heartbeats) is how ``overcast status`` tells.
"""

from __future__ import annotations

HEARTBEAT_MS = 5_000
STALE_AFTER_MS = 3 * HEARTBEAT_MS


def silent_for_ms(last_updated_ms: int | None, now_ms: int) -> int | None:
    """How long a gateway recorded at ``last_updated_ms`` has been silent, when that is longer
    than it may be (None: it is reporting)."""
    if last_updated_ms is None:
        return None
    silent = now_ms - int(last_updated_ms)
    return silent if silent > STALE_AFTER_MS else None
