"""Pure validation of attribute values: types, enums and the network formats VSD uses.

Every function either returns the normalised value or raises :class:`VsdError` (409 with the
offending ``property``), so a request is refused before anything is written.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .errors import bad_request, invalid, mandatory
from .schema import IDENTITY_ATTRS, NAME_LIMIT, Attr, Entity

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_PORT_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")


def coerce(attr: Attr, value: Any) -> Any:
    """Convert a JSON value to the attribute's type, leniently (vspk sends ints as strings)."""
    if value is None:
        return None
    kind = attr.type
    try:
        if kind == "str":
            if isinstance(value, bool) or isinstance(value, (dict, list)):
                raise ValueError
            value = str(value)
        elif kind == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(value)
            if not -(2**63) <= value < 2**63:  # VSD's attributes are Java longs
                raise ValueError
        elif kind == "float":
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
        elif kind == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false"):
                    raise ValueError
                value = lowered == "true"
            elif not isinstance(value, bool):
                raise ValueError
        elif kind == "list":
            if not isinstance(value, list):
                raise ValueError
        elif kind == "dict":
            if not isinstance(value, dict):
                raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise invalid(attr.name, f"Expected a value of type {kind}.") from None
    if attr.choices is not None and value not in attr.choices:
        raise invalid(attr.name, f"Invalid input: '{value}' is not one of {', '.join(attr.choices)}.")
    return value


def clean_body(entity: Entity, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Keep the writable, non-null attributes of a request body, coerced to their types.

    Null means "not provided" (vspk sends every attribute); server-computed and identity
    attributes are ignored; unknown keys are dropped as bambou would drop them.
    """
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (or, to create many, an array).")
    cleaned: dict[str, Any] = {}
    for name, value in body.items():
        if value is None or name in IDENTITY_ATTRS:
            continue
        attr = entity.attrs.get(name)
        if attr is None or name in entity.readonly:
            continue
        if not creating and name in entity.immutable:
            continue
        value = coerce(attr, value)
        if isinstance(value, str):
            text(entity, name, value)
        cleaned[name] = value
    return cleaned


def text(entity: Entity, name: str, value: str) -> None:
    """A string the store can keep whole: valid UTF-8 (a lone surrogate is not), and a name
    or unique key no longer than :data:`NAME_LIMIT` (refused rather than truncated)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(name, "The value is not valid Unicode text (a lone surrogate).") from None
    if name in ("name", entity.unique_attr) and len(value) > NAME_LIMIT:
        raise invalid(name, f"The value is longer than {NAME_LIMIT} characters ({len(value)}).")


def require(entity: Entity, data: dict[str, Any], *, creating: bool = True) -> None:
    for name in entity.required:
        if not creating and name in entity.write_only:
            continue
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise mandatory(name)


def ipv4(prop: str, value: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise invalid(prop, f"'{value}' is not a valid IPv4 address.") from None


def ipv4_network(
    address: str, netmask: str, *, address_prop: str = "address", netmask_prop: str = "netmask"
) -> ipaddress.IPv4Network:
    """A network given as dotted address + dotted (contiguous) netmask, address = network."""
    addr = ipv4(address_prop, address)
    try:
        mask = ipaddress.IPv4Address(netmask)
    except ValueError:
        raise invalid(netmask_prop, f"'{netmask}' is not a valid IPv4 netmask.") from None
    bits = int(mask)
    inverted = (~bits) & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise invalid(netmask_prop, f"'{netmask}' is not a contiguous netmask.")
    prefix = 32 - inverted.bit_length()
    network = ipaddress.IPv4Network(f"{addr}/{prefix}", strict=False)
    if network.network_address != addr:
        raise invalid(
            address_prop,
            f"'{address}' is not the network address of {network} (host bits set).",
        )
    return network


def gateway_in(network: ipaddress.IPv4Network, gateway: str, prop: str = "gateway") -> str:
    gw = ipv4(prop, gateway)
    if gw not in network or (
        network.prefixlen < 31 and gw in (network.network_address, network.broadcast_address)
    ):
        raise invalid(prop, f"Gateway {gateway} is not a usable address of {network}.")
    return str(gw)


def first_host(network: ipaddress.IPv4Network) -> str:
    if network.prefixlen >= 31:
        return str(network.network_address)
    return str(network.network_address + 1)


def mac(prop: str, value: str) -> str:
    if not _MAC.match(value):
        raise invalid(prop, f"'{value}' is not a valid MAC address (aa:bb:cc:dd:ee:ff).")
    normalised = value.lower()
    if int(normalised[:2], 16) & 1:
        raise invalid(prop, f"'{value}' is a multicast MAC address.")
    return normalised


def port_spec(prop: str, value: str) -> str:
    """``*``, ``80`` or ``1000-2000`` (low <= high, 0..65535)."""
    value = value.strip()
    if value == "*":
        return value
    match = _PORT_RANGE.match(value)
    if not match:
        raise invalid(prop, f"'{value}' is not a port, a port range (1000-2000) or '*'.")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not (0 <= low <= high <= 65535):
        raise invalid(prop, f"'{value}' is out of range: ports are 0-65535, low before high.")
    return value


def protocol(value: str) -> str:
    if value.upper() == "ANY":
        return "ANY"
    if not value.isdigit() or not 0 <= int(value) <= 255:
        raise invalid("protocol", f"'{value}' is not an IP protocol number (0-255) or ANY.")
    return str(int(value))


def ether_type(value: str) -> str:
    if value == "*":
        return value
    try:
        number = int(value, 16)
    except ValueError:
        raise invalid("etherType", f"'{value}' is not a hexadecimal EtherType or '*'.") from None
    if not 0x0600 <= number <= 0xFFFF:
        raise invalid("etherType", f"'{value}' is not a valid EtherType.")
    return f"0x{number:04X}"


def dscp(value: str) -> str:
    if value == "*":
        return value
    if not value.isdigit() or not 0 <= int(value) <= 63:
        raise invalid("DSCP", f"'{value}' is not a DSCP value (0-63) or '*'.")
    return str(int(value))


def icmp_field(prop: str, value: str) -> str:
    if value == "*":
        return value
    if not value.isdigit() or not 0 <= int(value) <= 255:
        raise invalid(prop, f"'{value}' is not an ICMP {prop[4:].lower()} (0-255) or '*'.")
    return str(int(value))
