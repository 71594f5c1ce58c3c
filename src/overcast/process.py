"""Settings for a long-running service process (the directory, the controller, an agent)."""

from __future__ import annotations

import asyncio
import gc
import signal


def tune_garbage_collector() -> None:
    """Collect cyclic garbage less often, and never re-scan what start-up loaded.

    CPython starts a young-generation collection every 700 net allocations, and each full one
    walks every live container object: a directory creating thousands of objects per request,
    or a controller holding the whole policy model, paid several percent of its time for
    collections that find almost nothing (a bulk create measured ~8 % faster with these
    settings). ``freeze`` moves the objects alive after start-up (modules, the model, the
    registry) out of every future collection. Reference counting frees everything without
    cycles as before; only cycles wait longer.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def until_stopped(stop: asyncio.Event | None) -> None:
    """Wait for ``stop`` — or, run as a process (None), for SIGINT or SIGTERM."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
