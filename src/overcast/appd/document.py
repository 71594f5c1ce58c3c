"""A whole application in one YAML file (``overcast app apply FILE.yaml``), parsed (pure).

::

    enterprise: acme
    domain: shop
    application: wordpress
    addressPool: 10.20.0.0/16          # optional: tiers without a network take a /24 of it
    services:
      http: tcp/80                     # tcp/N, udp/N, tcp/N-M, icmp, any
      mysql: {service: tcp/3306, direction: REFLEXIVE}
    tiers:
      clients: {macro: 0.0.0.0/0}      # a network macro tier
      web: {network: 10.10.1.0/24}     # a standard tier: a subnet
      db: {}                           # a standard tier: from the pool, else a policy group
      billing: {application: billing}  # another application of the domain
      others: {domain: true}           # every other application of the domain
    flows:
      - {from: clients, to: web, services: [http]}
      - {from: web, to: db, services: [mysql], action: FORWARD}

Errors name the line and column of the offending value (:class:`DocumentError`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import yaml

PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1", "any": "ANY"}


class DocumentError(ValueError):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.line, self.column = line, column


@dataclass(frozen=True)
class Service:
    name: str
    protocol: str
    destination_port: str = "*"
    source_port: str = "*"
    direction: str = "REFLEXIVE"

    def body(self) -> dict[str, Any]:
        body = {"name": self.name, "protocol": self.protocol, "direction": self.direction}
        if self.protocol in ("6", "17"):
            body.update(sourcePort=self.source_port, destinationPort=self.destination_port)
        return body


@dataclass(frozen=True)
class Tier:
    name: str
    type: str
    address: str | None = None
    netmask: str | None = None
    application: str | None = None  # for APPLICATION tiers: the other application's name

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.address:
            body.update(address=self.address, netmask=self.netmask)
        return body


@dataclass(frozen=True)
class Flow:
    name: str
    origin: str
    destination: str
    services: tuple[str, ...]
    action: str = "FORWARD"


@dataclass(frozen=True)
class Document:
    enterprise: str
    domain: str
    application: str
    address_pool: str | None = None
    description: str | None = None
    services: tuple[Service, ...] = ()
    tiers: tuple[Tier, ...] = ()
    flows: tuple[Flow, ...] = field(default_factory=tuple)


class _Loader(yaml.SafeLoader):
    """Keeps each mapping's and scalar's position, for errors that point at the line."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = _Positioned(loader.construct_mapping(node, deep=True))
    mapping.marks = {k.value: (v.start_mark.line + 1, v.start_mark.column + 1) for k, v in node.value}
    mapping.mark = (node.start_mark.line + 1, node.start_mark.column + 1)
    return mapping


class _Positioned(dict):  # type: ignore[type-arg]
    marks: dict[str, tuple[int, int]]
    mark: tuple[int, int]


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _fail(container: Any, key: str | None, message: str) -> DocumentError:
    marks: dict[str, tuple[int, int]] = getattr(container, "marks", {})
    line, column = marks[key] if key in marks else getattr(container, "mark", (None, None))
    return DocumentError(message, line, column)


def _text(container: Any, key: str, *, required: bool = True) -> str | None:
    value = container.get(key)
    if value is None:
        if required:
            raise _fail(container, None, f"'{key}' is missing")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _fail(container, key, f"'{key}' must be text")
    return str(value)


def parse_service(name: str, spec: Any, container: Any) -> Service:
    """``tcp/80``, ``udp/53``, ``tcp/1000-2000``, ``icmp``, ``any`` — or a mapping with
    ``service`` (that text), ``sourcePort``, ``direction`` (REFLEXIVE or UNIDIRECTIONAL)."""
    options: Any = {}
    if isinstance(spec, dict):
        options, spec = spec, spec.get("service")
    if not isinstance(spec, str):
        raise _fail(container, name, f"service '{name}': give it as tcp/PORT, udp/PORT, icmp or any")
    protocol, _, port = spec.strip().lower().partition("/")
    if protocol not in PROTOCOLS:
        raise _fail(container, name, f"service '{name}': unknown protocol '{protocol}' (tcp, udp, icmp, any)")
    number = PROTOCOLS[protocol]
    if port and number not in ("6", "17"):
        raise _fail(container, name, f"service '{name}': only tcp and udp have ports")
    if port:
        low, dash, high = port.partition("-")
        high = high if dash else low
        if not (low.isdigit() and high.isdigit()) or int(low) > int(high) or int(high) > 65535:
            raise _fail(container, name, f"service '{name}': '{port}' is not a port or a range LOW-HIGH")
    direction = str(options.get("direction", "REFLEXIVE")).upper()
    if direction not in ("REFLEXIVE", "UNIDIRECTIONAL"):
        raise _fail(
            options or container,
            "direction" if options else name,
            f"service '{name}': direction is REFLEXIVE or UNIDIRECTIONAL",
        )
    return Service(name, number, port or "*", str(options.get("sourcePort", "*")), direction)


def _network(container: Any, key: str) -> tuple[str, str]:
    text = _text(container, key)
    try:
        network = ipaddress.IPv4Network(text or "", strict=True)
    except ValueError:
        raise _fail(container, key, f"'{text}' is not an IPv4 network such as 10.0.1.0/24") from None
    return str(network.network_address), str(network.netmask)


def parse_tier(name: str, spec: Any, container: Any) -> Tier:
    spec = spec if spec is not None else {}
    if not isinstance(spec, dict):
        raise _fail(container, name, f"tier '{name}': a mapping ({{}} for a standard tier)")
    kinds = [k for k in ("network", "macro", "application", "domain") if k in spec]
    if len(kinds) > 1:
        raise _fail(spec, kinds[1], f"tier '{name}': one of network, macro, application or domain")
    if "macro" in spec:
        address, netmask = _network(spec, "macro")
        return Tier(name, "NETWORK_MACRO", address, netmask)
    if "application" in spec:
        return Tier(name, "APPLICATION", application=_text(spec, "application"))
    if "domain" in spec:
        return Tier(name, "APPLICATION_EXTENDED_NETWORK")
    if "network" in spec:
        address, netmask = _network(spec, "network")
        return Tier(name, "STANDARD", address, netmask)
    unknown = sorted(set(spec) - {"network"})
    if unknown:
        raise _fail(spec, unknown[0], f"tier '{name}': unknown key '{unknown[0]}'")
    return Tier(name, "STANDARD")


def parse_document(text: str) -> Document:
    """The application the YAML describes; :class:`DocumentError` naming the line otherwise."""
    try:
        root = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader with positions)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DocumentError(
            str(getattr(exc, "problem", exc)),
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    if not isinstance(root, dict):
        raise DocumentError("the file must be a mapping with enterprise, domain, application, tiers, flows")
    services_spec = root.get("services") or {}
    if not isinstance(services_spec, dict):
        raise _fail(root, "services", "'services' maps names to tcp/PORT, udp/PORT, icmp or any")
    services = tuple(parse_service(n, s, services_spec) for n, s in services_spec.items())
    tiers_spec = root.get("tiers") or {}
    if not isinstance(tiers_spec, dict) or not tiers_spec:
        raise _fail(root, "tiers" if "tiers" in root else None, "'tiers' maps tier names to their kind")
    tiers = tuple(parse_tier(str(n), s, tiers_spec) for n, s in tiers_spec.items())
    names = {t.name for t in tiers}
    flows = []
    flows_spec = root.get("flows") or []
    if not isinstance(flows_spec, list):
        raise _fail(root, "flows", "'flows' is a list of {from, to, services}")
    for index, spec in enumerate(flows_spec):
        if not isinstance(spec, dict):
            raise _fail(root, "flows", f"flow {index + 1}: a mapping {{from, to, services}}")
        origin, destination = _text(spec, "from"), _text(spec, "to")
        for key, tier in (("from", origin), ("to", destination)):
            if tier not in names:
                raise _fail(spec, key, f"flow {index + 1}: no tier named '{tier}'")
        wanted = spec.get("services") or []
        if isinstance(wanted, str):
            wanted = [wanted]
        if not wanted:
            raise _fail(spec, None, f"flow {index + 1}: 'services' names at least one service")
        for service in wanted:
            if service not in {s.name for s in services}:
                raise _fail(spec, "services", f"flow {index + 1}: no service named '{service}'")
        action = str(spec.get("action", "FORWARD")).upper()
        if action not in ("FORWARD", "DROP"):
            raise _fail(spec, "action", f"flow {index + 1}: action is FORWARD or DROP")
        name = _text(spec, "name", required=False) or f"{origin}-to-{destination}"
        flows.append(Flow(name, str(origin), str(destination), tuple(wanted), action))
    if len({f.name for f in flows}) != len(flows):
        raise _fail(root, "flows", "two flows have the same name: name one of them")
    pool = _text(root, "addressPool", required=False)
    if pool is not None:
        try:
            pool = str(ipaddress.IPv4Network(pool, strict=True))
        except ValueError:
            raise _fail(
                root, "addressPool", f"'{pool}' is not an IPv4 network such as 10.20.0.0/16"
            ) from None
    return Document(
        enterprise=str(_text(root, "enterprise")),
        domain=str(_text(root, "domain")),
        application=str(_text(root, "application")),
        address_pool=pool,
        description=_text(root, "description", required=False),
        services=services,
        tiers=tiers,
        flows=tuple(flows),
    )
