"""Pure address arithmetic for allocation: which addresses of a network may be handed out."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable

from .errors import conflict, invalid


@functools.lru_cache(maxsize=4096)
def network_of(address: str, netmask: str) -> ipaddress.IPv4Network:
    """The network of an address and netmask (cached: every interface of a bulk create of one
    subnet parses the same pair; the result is immutable)."""
    return ipaddress.IPv4Network(f"{address}/{netmask}", strict=False)


@functools.lru_cache(maxsize=4096)
def address_value(address: str) -> int:
    """An IPv4 address as an integer (cached, like :func:`network_of`)."""
    return int(ipaddress.IPv4Address(address))


def usable_bounds(network: ipaddress.IPv4Network) -> tuple[int, int]:
    """First and last assignable host (network and broadcast excluded below /31)."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.prefixlen < 31:
        first, last = first + 1, last - 1
    return first, last


def check_requested(network: ipaddress.IPv4Network, requested: str, reserved: Iterable[int]) -> int:
    """Validate an address a client asked for; return it as an integer."""
    try:
        address = ipaddress.IPv4Address(requested)
    except ValueError:
        raise invalid("IPAddress", f"'{requested}' is not a valid IPv4 address.") from None
    first, last = usable_bounds(network)
    value = int(address)
    if not first <= value <= last:
        raise conflict(f"IP address {requested} is not a usable address of {network}.", prop="IPAddress")
    if value in set(reserved):
        raise conflict(f"IP address {requested} is reserved (gateway).", prop="IPAddress")
    return value


def pick_free(
    network: ipaddress.IPv4Network,
    reserved: set[int],
    highest: int | None,
    used: Callable[[], Iterable[int]],
) -> int | None:
    """The address to hand out next: after the highest one in use, else the lowest hole.

    Handing out past the highest first keeps allocation O(1) in the common case and avoids
    immediately reusing an address a departed endpoint held (stale ARP caches elsewhere).
    """
    first, last = usable_bounds(network)
    candidate = first if highest is None else max(first, highest + 1)
    while candidate <= last and candidate in reserved:
        candidate += 1
    if candidate <= last:
        return candidate
    taken = set(used()) | reserved  # only read when the end of the range is reached
    for value in range(first, last + 1):
        if value not in taken:
            return value
    return None


def to_text(value: int) -> str:
    return str(ipaddress.IPv4Address(value))
