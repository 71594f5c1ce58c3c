"""Entering a network namespace from one thread, in process.

pyroute2's ``pushns``/``popns`` keep one process-wide stack, which threads working in several
namespaces at once corrupt, and ``IPRoute(netns=...)`` forks a helper (which crashes beside
gRPC's threads). ``setns`` on the calling thread only, and back, is what both need.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

_LIBC = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


def netns_path(name: str) -> str:
    """A namespace's file: ``name`` under /run/netns (as ``ip netns`` names them), or a path."""
    return name if name.startswith("/") else f"/run/netns/{name}"


@contextmanager
def in_netns(name: str | None) -> Iterator[None]:
    """Run the block in a named network namespace (or a path to one) — this thread only, and
    back afterwards. Sockets made inside stay in that namespace."""
    if name is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path(name), os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
