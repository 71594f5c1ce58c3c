"""Real connections from inside namespaces, and what a namespace holds."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from overcast.lab import sh


def links_of(namespace: str) -> dict[str, int]:
    out = json.loads(sh("ip", "-j", "-n", namespace, "link", "show").stdout)
    return {link["ifname"]: link["ifindex"] for link in out}


@contextmanager
def open_connection(namespace: str, address: str, port: int) -> Iterator[socket.socket]:
    """A TCP connection made from inside a container namespace (the socket keeps it)."""
    from pyroute2 import netns

    netns.pushns(namespace)
    try:
        conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        netns.popns()
    conn.settimeout(1.0)
    conn.connect((address, port))
    try:
        yield conn
    finally:
        conn.close()


def exchange(conn: socket.socket) -> bool:
    try:
        conn.sendall(b"ping")
        return conn.recv(4) == b"ping"
    except OSError:
        return False
