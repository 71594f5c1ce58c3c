"""Compliance evaluated over the compiled reachability, by classes (pure).

What is judged is what hosts are told to enforce: the policy compiler's domain views, every
endpoint placed (an endpoint that is not running yet is judged as if it were: a policy about
it must hold when it starts), and the oracle's decisions (:func:`overcast.policy.oracle.decide`)
— one definition of "allowed" for compliance, ``policy explain`` and the datapath.

**Classes, not pairs.** Endpoints with the same signature — domain, subnet, policy groups,
floating IP or not, and which of the relevant prefixes (macros the entries or sentences name,
addresses the sentences name) hold their address — meet every rule and selector alike. Outside
addresses fall into the atoms of those prefixes (each prefix minus the prefixes inside it).
Destination ports fall into atoms at every boundary an entry or a sentence uses. A sentence
is checked per class pair and atom, with the decision of a representative; a violation reports
an example pair, the number of endpoint pairs it stands for, and the deciding entries.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..policy.compiler import DomainView, Endpoint, PolicyInput, compile_domains, domain_view
from ..policy.oracle import Decision, Packet, covers, decide, north_south_refusal
from .language import Address, All, Anything, Named, Not, Selector, Sentence, Service, Some

#: Where every endpoint is placed for judging (an endpoint's host never changes a verdict).
PLACED = "compliance"
OUTSIDE_ICMP = 1
OTHER_PROTOCOL = 47  # stands for every IP protocol that is not TCP, UDP or ICMP
EPHEMERAL_PORT = 40000


@dataclass(frozen=True)
class Atom:
    """A protocol and a destination port range judged alike (ports only for TCP/UDP)."""

    protocol: int
    low: int = 0
    high: int = 0

    def describe(self) -> str:
        name = {6: "tcp", 17: "udp", 1: "icmp"}.get(self.protocol)
        if name in ("tcp", "udp"):
            return f"{name}/{self.low}" if self.low == self.high else f"{name}/{self.low}-{self.high}"
        return name or f"ip proto {self.protocol} (any other)"


@dataclass(frozen=True)
class Point:
    """A class: endpoints of one signature (``members``: their vport IDs), or an atom of the
    outside address space (``members`` empty, ``address`` its representative)."""

    key: str
    domain_id: str | None
    address: str
    example: str
    members: tuple[str, ...] = ()
    facts: frozenset[tuple[str, str]] = frozenset()  # (selector kind, ID) the class satisfies
    cidrs: frozenset[str] = frozenset()  # relevant prefixes holding its address

    @property
    def outside(self) -> bool:
        return not self.members

    @property
    def size(self) -> int:
        return max(1, len(self.members))


@dataclass(frozen=True)
class Violation:
    line: int
    sentence: str
    source: str  # an example: endpoint name (IP) or an outside address
    destination: str
    protocol: str
    pairs: int  # endpoint pairs the class pair stands for
    ingress: Decision | None
    egress: Decision | None
    reason: str  # allowed (should not be) | not allowed (must be) | path
    key: str  # identity across evaluations: sentence, classes, atom
    source_members: tuple[str, ...] = ()  # the vports the class pair stands for (none: outside)
    destination_members: tuple[str, ...] = ()

    def summary(self) -> str:
        return f"{self.source} → {self.destination} {self.protocol}: {self.reason}"


@dataclass
class World:
    """Everything a sentence can name, and each domain's judged view."""

    views: dict[str, DomainView]
    endpoints: dict[str, tuple[str, Endpoint]]  # vport ID -> (domain ID, endpoint)
    names: dict[tuple[str, str], set[str]]  # (kind, name) -> IDs
    facts: dict[str, set[tuple[str, str]]]  # vport ID -> (kind, ID) it belongs to
    labels: dict[str, str]  # vport ID -> a name people know (container name, else vport name)
    macro_prefixes: dict[str, set[str]]  # macro or macro group ID -> CIDRs
    services: dict[str, list[Service]] = field(default_factory=dict)  # appd service name -> services
    enterprise_of_domain: dict[str, str] = field(default_factory=dict)


def build_world(state: PolicyInput) -> World:
    """The world of a :class:`PolicyInput` holding the judged enterprises' objects (plus
    ``enterprise``, ``appdapplication``, ``appdtier`` and ``appdservice`` objects for names)."""
    placed = PolicyInput(objects=defaultdict(dict), members=dict(state.members))
    for kind, objs in state.objects.items():
        placed.objects[kind] = dict(objs)
    placed.add("vrs", {"ID": PLACED, "name": PLACED, "address": "192.0.2.254"})
    for kind in ("container", "vm"):
        for obj in list(placed.of(kind)):
            placed.add(kind, {**obj, "VRSID": PLACED})
    domains = compile_domains(placed)
    views = {d: domain_view(entries.items(), PLACED) for d, entries in domains.items()}
    endpoints = {e.vport_id: (d, e) for d, view in views.items() for e in view.local}
    names: dict[tuple[str, str], set[str]] = defaultdict(set)
    for kind in (
        "enterprise",
        "domain",
        "zone",
        "subnet",
        "policygroup",
        "enterprisenetwork",
        "networkmacrogroup",
    ):
        short = {"policygroup": "pg", "enterprisenetwork": "macro", "networkmacrogroup": "macro"}.get(
            kind, kind
        )
        for obj in placed.of(kind):
            if obj.get("name"):
                names[(short, obj["name"])].add(obj["ID"])
    apps = {a["ID"]: a for a in placed.of("appdapplication")}
    for app in apps.values():
        if app.get("associatedZoneID"):
            names[("app", app["name"])].add(app["associatedZoneID"])
    for tier in placed.of("appdtier"):
        owner = apps.get(tier.get("parentID") or "")
        if owner is not None and tier.get("associatedObjectID"):
            names[("tier", f"{owner['name']}/{tier['name']}")].add(tier["associatedObjectID"])
    groups_of: dict[str, set[str]] = defaultdict(set)
    for group in placed.of("policygroup"):
        for vport in state.members.get(group["ID"], ()):
            groups_of[vport].add(group["ID"])
    facts: dict[str, set[tuple[str, str]]] = {}
    labels: dict[str, str] = {}
    containers = {o["ID"]: o for kind in ("container", "vm") for o in placed.of(kind)}
    interfaces = [i for kind in ("containerinterface", "vminterface") for i in placed.of(kind)]
    owner_of = {i.get("VPortID"): containers.get(i.get("parentID") or "") for i in interfaces}
    for vport_id, (domain_id, endpoint) in endpoints.items():
        domain = placed.get("domain", domain_id) or placed.get("l2domain", domain_id) or {}
        known = {
            ("domain", domain_id),
            ("enterprise", domain.get("parentID") or ""),
            ("subnet", endpoint.subnet_id),
        }
        if endpoint.zone_id:
            known.add(("zone", endpoint.zone_id))
        known |= {("pg", g) for g in groups_of.get(vport_id, ())}
        facts[vport_id] = known
        owner = owner_of.get(vport_id) or placed.get("vport", vport_id) or {}
        labels[vport_id] = f"{owner.get('name') or vport_id} ({endpoint.ip})"
    macro_prefixes: dict[str, set[str]] = defaultdict(set)
    for macro in placed.of("enterprisenetwork"):
        if macro.get("address") and macro.get("netmask"):
            macro_prefixes[macro["ID"]].add(
                str(ipaddress.IPv4Network(f"{macro['address']}/{macro['netmask']}"))
            )
    for group in placed.of("networkmacrogroup"):
        for member in state.members.get(group["ID"], ()):
            macro_prefixes[group["ID"]] |= macro_prefixes.get(member, set())
    services: dict[str, list[Service]] = defaultdict(list)
    for svc in placed.of("appdservice"):
        protocol = svc.get("protocol")
        number = None if protocol in (None, "ANY") else int(protocol)
        port = svc.get("destinationPort") or "*"
        bounds = None if port == "*" or number not in (6, 17) else _bounds(port)
        services[svc["name"]].append(Service(number, bounds))
    enterprise_of_domain = {
        d: (placed.get("domain", d) or placed.get("l2domain", d) or {}).get("parentID") or "" for d in views
    }
    return World(views, endpoints, names, facts, labels, macro_prefixes, services, enterprise_of_domain)


def _bounds(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


# --- selectors -------------------------------------------------------------------------------


def _selector_parts(selector: Selector | None) -> Iterable[Selector]:
    if selector is None:
        return
    yield selector
    if isinstance(selector, Not):
        yield from _selector_parts(selector.operand)
    elif isinstance(selector, All | Some):
        for operand in selector.operands:
            yield from _selector_parts(operand)


def _sentence_selectors(sentence: Sentence) -> Iterable[Selector]:
    for selector in (sentence.source, sentence.destination, sentence.exception):
        yield from _selector_parts(selector)


def unresolved(world: World, sentences: Iterable[Sentence]) -> list[str]:
    """Warnings: named selectors that name nothing, and unknown services."""
    out = []
    for sentence in sentences:
        for part in _sentence_selectors(sentence):
            if isinstance(part, Named) and not world.names.get((part.kind, part.name)):
                out.append(f"line {sentence.line}: {part.kind}:{part.name} names nothing")
        for service in (*sentence.services, *sentence.exception_services):
            if service.name is not None and service.name not in world.services:
                out.append(f"line {sentence.line}: service:{service.name} names no service")
    return out


def _named_prefixes(world: World, part: Named) -> set[str]:
    ids = world.names.get((part.kind, part.name), set())
    return {p for i in ids for p in world.macro_prefixes.get(i, ())}


def matches(world: World, selector: Selector, point: Point) -> bool:
    if isinstance(selector, Anything):
        return True
    if isinstance(selector, Not):
        return not matches(world, selector.operand, point)
    if isinstance(selector, All):
        return all(matches(world, s, point) for s in selector.operands)
    if isinstance(selector, Some):
        return any(matches(world, s, point) for s in selector.operands)
    if isinstance(selector, Address):
        return selector.cidr in point.cidrs
    ids = world.names.get((selector.kind, selector.name), set())
    if selector.kind == "macro":
        return point.outside and bool(_named_prefixes(world, selector) & point.cidrs)
    if point.outside:
        # A tier deployed as a macro is outside addresses.
        return selector.kind == "tier" and bool(
            {p for i in ids for p in world.macro_prefixes.get(i, ())} & point.cidrs
        )
    if selector.kind in ("app", "tier"):
        return any(fact[1] in ids for fact in point.facts)
    return any((selector.kind, i) in point.facts for i in ids)


# --- classes and atoms ----------------------------------------------------------------------


def _relevant_prefixes(world: World, sentences: list[Sentence]) -> set[str]:
    prefixes = {"0.0.0.0/0"}
    for view in world.views.values():
        for name, cidrs in view.sets:
            if name.startswith(("macro:", "macrogroup:")):
                prefixes |= set(cidrs)
    for sentence in sentences:
        for part in _sentence_selectors(sentence):
            if isinstance(part, Address):
                prefixes.add(part.cidr)
            elif isinstance(part, Named) and part.kind in ("macro", "tier"):
                prefixes |= _named_prefixes(world, part)
    return prefixes


def outside_points(prefixes: set[str]) -> list[Point]:
    """One point per atom of the outside space: each prefix minus the prefixes inside it."""
    networks = sorted({ipaddress.IPv4Network(p) for p in prefixes}, key=lambda n: (n.prefixlen, n))
    out = []
    for network in networks:
        inner = [n for n in networks if n != network and n.subnet_of(network)]
        remaining = [network]
        for child in inner:
            remaining = [
                piece
                for r in remaining
                for piece in (r.address_exclude(child) if child.subnet_of(r) else [r])
            ]
            if not remaining:
                break
        if not remaining:
            continue
        representative = min(remaining, key=lambda n: int(n.network_address))
        address = representative.network_address + (1 if representative.num_addresses > 2 else 0)
        holding = frozenset(str(n) for n in networks if address in n)
        out.append(Point(f"outside:{network}", None, str(address), f"{address} (outside)", cidrs=holding))
    return out


def endpoint_points(world: World, prefixes: set[str]) -> list[Point]:
    networks = [ipaddress.IPv4Network(p) for p in prefixes]
    classes: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for vport_id in sorted(world.endpoints):
        domain_id, endpoint = world.endpoints[vport_id]
        if not endpoint.ip:
            continue
        ip = ipaddress.IPv4Address(endpoint.ip)
        cidrs = frozenset(str(n) for n in networks if ip in n)
        signature = (
            domain_id,
            endpoint.subnet_id,
            frozenset(world.facts[vport_id]),
            cidrs,
            bool(endpoint.floating_ip),
        )
        classes[signature].append(vport_id)
    out = []
    for (domain_id, subnet_id, facts, cidrs, _), members in classes.items():
        first = world.endpoints[members[0]][1]
        fact_text = ",".join(sorted(f"{k}:{i}" for k, i in facts))
        key = f"{domain_id}|{subnet_id}|{fact_text}|{','.join(sorted(cidrs))}|{bool(first.floating_ip)}"
        out.append(
            Point(key, domain_id, first.ip or "", world.labels[members[0]], tuple(members), facts, cidrs)
        )
    return out


def atoms(world: World, sentences: list[Sentence]) -> list[Atom]:
    bounds: dict[int, set[int]] = {6: {0, 65536}, 17: {0, 65536}}
    for view in world.views.values():
        for rule in (*view.ingress, *view.egress):
            if rule.destination_ports and rule.protocol in (6, 17, None):
                for protocol in (6, 17) if rule.protocol is None else (rule.protocol,):
                    bounds[protocol] |= {rule.destination_ports[0], rule.destination_ports[1] + 1}
    for sentence in sentences:
        for service in _services(world, (*sentence.services, *sentence.exception_services)):
            if service.ports:
                for protocol in (6, 17) if service.protocol is None else (service.protocol,):
                    if protocol in bounds:
                        bounds[protocol] |= {service.ports[0], service.ports[1] + 1}
    out = []
    for protocol in (6, 17):
        edges = sorted(bounds[protocol])
        out += [Atom(protocol, low, high - 1) for low, high in zip(edges, edges[1:], strict=False)]
    return [*out, Atom(OUTSIDE_ICMP), Atom(OTHER_PROTOCOL)]


def _services(world: World, services: Iterable[Service]) -> list[Service]:
    out = []
    for service in services:
        if service.name is not None:
            out += world.services.get(service.name, [])
        else:
            out.append(service)
    return out


def in_services(world: World, atom: Atom, services: tuple[Service, ...]) -> bool:
    """Whether the atom is traffic the services name (none named: any traffic)."""
    if not services:
        return True
    for service in _services(world, services):
        if service.protocol is not None and service.protocol != atom.protocol:
            continue
        if service.ports is None or (
            atom.protocol in (6, 17) and service.ports[0] <= atom.low and atom.high <= service.ports[1]
        ):
            return True
    return False


# --- verdicts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    allowed: bool
    ingress: Decision | None
    egress: Decision | None


class Judge:
    """Decisions between classes, each computed once (the oracle's, at a representative)."""

    def __init__(self, world: World, *, reduce: bool = True) -> None:
        """``reduce=False``: every decision over the whole domain view (the brute force)."""
        self.world, self.reduce = world, reduce
        self._cache: dict[tuple[str, str, Atom], Judged] = {}
        self._views: dict[str, DomainView] = {}

    def _endpoint(self, point: Point) -> tuple[DomainView, Endpoint]:
        """The class's representative, and its domain's view reduced to the rules whose local
        side holds it (the others cannot match it: the same decisions, a fraction of the
        rules to try — a domain of 100 applications has hundreds)."""
        domain_id, endpoint = self.world.endpoints[point.members[0]]
        if not self.reduce:
            return self.world.views[domain_id], endpoint
        representative = point.members[0]
        if representative not in self._views:
            view = self.world.views[domain_id]
            mine = [
                tuple(
                    r
                    for r in rules
                    if r.local is None or (endpoint.ip and covers(view.set(r.local), endpoint.ip))
                )
                for rules in (view.ingress, view.egress)
            ]
            self._views[representative] = replace(view, ingress=mine[0], egress=mine[1])
        return self._views[representative], endpoint

    def _packet(self, src: str, dst: str, atom: Atom) -> Packet:
        if atom.protocol == OUTSIDE_ICMP:
            return Packet(src, dst, protocol=1, sport=0, dport=0, icmp_type=8, icmp_code=0)
        return Packet(src, dst, protocol=atom.protocol, sport=EPHEMERAL_PORT, dport=atom.low)

    def flow(self, source: Point, destination: Point, atom: Atom) -> Judged:
        key = (source.key, destination.key, atom)
        if key not in self._cache:
            self._cache[key] = self._judge(source, destination, atom)
        return self._cache[key]

    def _judge(self, source: Point, destination: Point, atom: Atom) -> Judged:
        if source.outside and destination.outside:
            return Judged(False, None, None)  # not the overlay's traffic
        packet = self._packet(source.address, destination.address, atom)
        if source.outside or destination.outside:
            inbound = source.outside
            view, local = self._endpoint(destination if inbound else source)
            refusal = north_south_refusal(view, local, inbound=inbound)
            if refusal:
                judged = Decision(False, refusal)
            else:
                judged = decide(view, "egress" if inbound else "ingress", local, packet)
            outside = Decision(True, "outside")
            return Judged(judged.allowed, outside if inbound else judged, judged if inbound else outside)
        if source.domain_id != destination.domain_id:
            apart = Decision(False, "another domain")
            return Judged(False, apart, apart)
        source_view, src = self._endpoint(source)
        destination_view, dst = self._endpoint(destination)
        ingress = decide(source_view, "ingress", src, packet)
        egress = decide(destination_view, "egress", dst, packet)
        return Judged(ingress.allowed and egress.allowed, ingress, egress)


# --- sentences -------------------------------------------------------------------------------


def _pairs(source: Point, destination: Point) -> int:
    if source.key == destination.key:
        return source.size * (source.size - 1)
    return source.size * destination.size


def evaluate(
    world: World,
    sentences: list[Sentence],
    *,
    classes: bool = True,
    ports: Iterable[int] | None = None,
    judge: Judge | None = None,
) -> list[Violation]:
    """Every violation of the sentences. The brute force the class evaluation must equal (for
    tests): ``classes=False`` judges every endpoint on its own, ``ports`` every one of those
    TCP and UDP ports on its own instead of the atoms."""
    prefixes = _relevant_prefixes(world, sentences)
    points = endpoint_points(world, prefixes) + outside_points(prefixes)
    if not classes:
        points = [single for p in points for single in _singles(world, p)]
    judge = judge if judge is not None and classes else Judge(world, reduce=classes)
    if ports is None:
        port_atoms = atoms(world, sentences)
    else:
        port_atoms = [Atom(p, n, n) for p in (6, 17) for n in sorted(set(ports))] + [
            Atom(OUTSIDE_ICMP),
            Atom(OTHER_PROTOCOL),
        ]
    out: list[Violation] = []
    for sentence in sentences:
        out += _check(world, judge, points, port_atoms, sentence)
    return out


def _singles(world: World, point: Point) -> list[Point]:
    if point.outside or len(point.members) == 1:
        return [point]
    return [
        Point(
            f"{point.key}#{m}",
            point.domain_id,
            world.endpoints[m][1].ip or "",
            world.labels[m],
            (m,),
            point.facts,
            point.cidrs,
        )
        for m in point.members
    ]


def _violation(
    sentence: Sentence, source: Point, destination: Point, atom: Atom, judged: Judged, reason: str
) -> Violation:
    return Violation(
        line=sentence.line,
        sentence=sentence.text,
        source=source.example,
        destination=destination.example,
        protocol=atom.describe(),
        pairs=_pairs(source, destination),
        ingress=judged.ingress,
        egress=judged.egress,
        reason=reason,
        key=f"{sentence.text}|{source.key}|{destination.key}|{atom.describe()}|{reason}",
        source_members=source.members,
        destination_members=destination.members,
    )


def _check(
    world: World, judge: Judge, points: list[Point], port_atoms: list[Atom], sentence: Sentence
) -> list[Violation]:
    form = sentence.form
    if form == "each_isolated":
        return _each_isolated(world, judge, points, port_atoms, sentence)
    if form == "no_path":
        return _no_path(world, judge, points, port_atoms, sentence)
    assert sentence.source is not None and sentence.destination is not None
    memo = _Memo(world)
    if form in ("no_flow", "only", "must"):  # only the traffic the sentence names is judged
        port_atoms = [a for a in port_atoms if memo.in_services(a, sentence.services)]
    out = []
    for source in points:
        for destination in points:
            if source.key == destination.key and source.size < 2:
                continue  # an endpoint is not judged talking to itself
            if source.outside and destination.outside:
                continue
            for atom in port_atoms:
                verdict = _sentence_verdict(memo, judge, sentence, source, destination, atom)
                if verdict is not None:
                    out.append(verdict)
    return out


class _Memo:
    """``matches`` and ``in_services`` remembered for one sentence's pass: the same selector
    meets the same class once per partner class and atom otherwise."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._matches: dict[tuple[int, str], bool] = {}
        self._services: dict[tuple[int, Atom], bool] = {}

    def matches(self, selector: Selector, point: Point) -> bool:
        key = (id(selector), point.key)
        if key not in self._matches:
            self._matches[key] = matches(self.world, selector, point)
        return self._matches[key]

    def in_services(self, atom: Atom, services: tuple[Service, ...]) -> bool:
        key = (id(services), atom)
        if key not in self._services:
            self._services[key] = in_services(self.world, atom, services)
        return self._services[key]


def _sentence_verdict(
    memo: _Memo, judge: Judge, sentence: Sentence, source: Point, destination: Point, atom: Atom
) -> Violation | None:
    s, d = sentence.source, sentence.destination
    assert s is not None and d is not None
    form = sentence.form
    if form == "no_flow":
        if (
            memo.matches(s, source)
            and memo.matches(d, destination)
            and memo.in_services(atom, sentence.services)
        ):
            judged = judge.flow(source, destination, atom)
            if judged.allowed:
                return _violation(sentence, source, destination, atom, judged, "allowed")
        return None
    if form in ("inbound", "outbound", "isolated"):
        checks = ("inbound", "outbound") if form == "isolated" else (form,)
        for check in checks:
            inside, other = (destination, source) if check == "inbound" else (source, destination)
            if not memo.matches(d, inside) or memo.matches(d, other):
                continue
            excused = (
                sentence.exception is not None
                and memo.matches(sentence.exception, other)
                and memo.in_services(atom, sentence.exception_services)
            )
            if excused:
                continue
            judged = judge.flow(source, destination, atom)
            if judged.allowed:
                return _violation(sentence, source, destination, atom, judged, "allowed")
        return None
    if form == "only":
        if (
            memo.matches(d, destination)
            and not memo.matches(d, source)
            and not memo.matches(s, source)
            and memo.in_services(atom, sentence.services)
        ):
            judged = judge.flow(source, destination, atom)
            if judged.allowed:
                return _violation(sentence, source, destination, atom, judged, "allowed")
        return None
    if form == "must":
        if (
            memo.matches(s, source)
            and memo.matches(d, destination)
            and memo.in_services(atom, sentence.services)
        ):
            if not (source.outside and destination.outside):
                judged = judge.flow(source, destination, atom)
                if not judged.allowed:
                    return _violation(sentence, source, destination, atom, judged, "not allowed")
        return None
    raise ValueError(f"unknown sentence form {form}")


def _each_isolated(
    world: World, judge: Judge, points: list[Point], port_atoms: list[Atom], sentence: Sentence
) -> list[Violation]:
    """No endpoint of an enterprise reaches an endpoint of another (the overlay's domains never
    meet; this checks that what hosts are told keeps it so)."""
    out = []
    enterprise = {p.key: next((i for k, i in p.facts if k == "enterprise"), None) for p in points}
    for source in points:
        for destination in points:
            if source.outside or destination.outside or enterprise[source.key] == enterprise[destination.key]:
                continue
            for atom in port_atoms:
                judged = judge.flow(source, destination, atom)
                if judged.allowed:
                    out.append(_violation(sentence, source, destination, atom, judged, "allowed"))
    return out


def _no_path(
    world: World, judge: Judge, points: list[Point], port_atoms: list[Atom], sentence: Sentence
) -> list[Violation]:
    """A chain of allowed flows (any service) from a source to a destination within the hops,
    avoiding ``except through`` classes as intermediate steps: breadth-first over classes (a
    class stands for its members: a step inside one class needs two members)."""
    s, d = sentence.source, sentence.destination
    assert s is not None and d is not None
    edges: dict[str, list[tuple[Point, Atom, Judged]]] = defaultdict(list)
    by_key = {p.key: p for p in points}

    def successors(point: Point) -> list[tuple[Point, Atom, Judged]]:
        if point.key not in edges:
            for other in points:
                if (other.key == point.key and point.size < 2) or (point.outside and other.outside):
                    continue
                for atom in port_atoms:
                    judged = judge.flow(point, other, atom)
                    if judged.allowed:
                        edges[point.key].append((other, atom, judged))
                        break
            edges.setdefault(point.key, [])
        return edges[point.key]

    out = []
    for start in points:
        if not matches(world, s, start):
            continue
        seen = {start.key: 0}
        queue: deque[tuple[Point, int, tuple[str, ...]]] = deque([(start, 0, (start.example,))])
        while queue:
            point, hops, path = queue.popleft()
            if hops == sentence.hops:
                continue
            for nxt, atom, judged in successors(point):
                if matches(world, d, nxt) and nxt.key != start.key:
                    chain = " → ".join((*path, nxt.example))
                    out.append(
                        Violation(
                            sentence.line,
                            sentence.text,
                            start.example,
                            nxt.example,
                            atom.describe(),
                            _pairs(start, nxt),
                            judged.ingress,
                            judged.egress,
                            f"path {chain}",
                            f"{sentence.text}|{start.key}|{nxt.key}|path",
                            start.members,
                            nxt.members,
                        )
                    )
                    continue
                through = sentence.exception is not None and matches(world, sentence.exception, nxt)
                if through or nxt.key in seen:
                    continue
                seen[nxt.key] = hops + 1
                queue.append((by_key[nxt.key], hops + 1, (*path, nxt.example)))
    unique = {v.key: v for v in out}
    return list(unique.values())
