"""nftables as a model: run the scripts the Linux driver generates, evaluate packets at a hook.

The memory dataplane loads a domain's firewall through this model exactly as the Linux driver
loads it through libnftables (the same script text), then judges packets by the rules the
script left. It understands the subset of the nft language Overcast generates and nothing
more: anything else — a keyword, an expression, a set element the kernel would refuse —
raises :class:`NftError`, so a generator change the model does not understand fails loudly
instead of being judged by a guess.

Semantics kept from the kernel (nft(8), and the kernel's nf_tables core):

* ``nft -f`` is one transaction: a script that fails changes nothing (:meth:`Ruleset.run`);
* ``delete table`` of a table that does not exist, ``delete element`` of an element that is
  not there, a prefix in a set without ``flags interval`` and overlapping intervals are errors;
* a base chain's rules run in order; ``jump`` runs another chain and comes back when it
  returns (explicitly, or by running out of rules); ``accept`` ends this base chain (the next
  table's base chain at the same hook still runs), ``drop`` ends the packet; a base chain that
  runs out of rules applies its policy;
* payload expressions carry their protocol dependency: ``ip saddr`` never matches a frame that
  is not IPv4 (negated or not), ``th dport`` only a TCP or UDP packet, ``icmp type`` only ICMP.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any

IPV4, IPV6, ARP = 0x0800, 0x86DD, 0x0806

#: Names nft accepts for values Overcast's rulesets use.
_ETHER_TYPES = {"ip": IPV4, "ip6": IPV6, "arp": ARP, "vlan": 0x8100}
_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
_ICMP_TYPES = {"echo-reply": 0, "destination-unreachable": 3, "echo-request": 8, "time-exceeded": 11}
_PRIORITIES = {
    ("inet", "filter"): 0,
    ("ip", "filter"): 0,
    ("bridge", "filter"): -200,
    ("inet", "raw"): -300,
    ("ip", "dstnat"): -100,
    ("ip", "srcnat"): 100,
}
_CT_STATES = {"new", "established", "related", "invalid", "untracked"}
_TOKEN = re.compile(r'"[^"\n]*"|[{};,\n]|[^\s{};,"]+')


class NftError(Exception):
    """The script is outside the language the model knows, or the kernel would refuse it."""


@dataclass(frozen=True)
class Frame:
    """What the hooks see of a packet (IPv4 fields None for other ether types)."""

    ether_type: int
    src_mac: str
    dst_mac: str
    iifname: str = ""
    oifname: str = ""
    saddr: str | None = None
    daddr: str | None = None
    l4proto: int | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    ct_state: str = "new"
    ct_mark: int = 0


@dataclass(frozen=True)
class Step:
    """A verdict a rule (or a base chain's policy: ``rule`` is None) gave."""

    table: str  # family and name: "inet overcast"
    chain: str
    verdict: str  # accept | drop | return | jump <chain>
    comment: str | None
    rule: int | None  # the rule's position in its chain


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    steps: tuple[Step, ...]
    ct_mark: int  # after ``ct mark set`` statements


@dataclass
class NftSet:
    type: str  # ipv4_addr | ether_addr
    interval: bool = False
    #: ipv4_addr: addresses ("10.0.0.1") and prefixes ("10.0.0.0/24"); ether_addr: lower-case MACs.
    elements: set[str] = field(default_factory=set)
    _prefixes: dict[str, ipaddress.IPv4Network] = field(default_factory=dict, repr=False, compare=False)

    def add(self, text: str) -> None:
        element, network = self._parse(text)
        if network is not None and element not in self.elements:
            if network.prefixlen != 32 and not self.interval:
                raise NftError(f"{text}: a prefix in a set without 'flags interval'")
            if self.interval and self._overlapping(network):
                raise NftError(f"{text}: conflicting intervals specified")
            if network.prefixlen != 32:
                self._prefixes[element] = network
        self.elements.add(element)

    def delete(self, text: str) -> None:
        element, _ = self._parse(text)
        if element not in self.elements:
            raise NftError(f"{text}: could not delete element: no such element")
        self.elements.remove(element)
        self._prefixes.pop(element, None)

    def contains(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.type == "ether_addr":
            return value.lower() in self.elements
        if value in self.elements:
            return True
        address = ipaddress.IPv4Address(value)
        return any(address in network for network in self._prefixes.values())

    def _overlapping(self, network: ipaddress.IPv4Network) -> bool:
        if any(network.overlaps(other) for other in self._prefixes.values()):
            return True
        return network.prefixlen != 32 and any(
            ipaddress.IPv4Address(e) in network for e in self.elements if e not in self._prefixes
        )

    def _parse(self, text: str) -> tuple[str, ipaddress.IPv4Network | None]:
        """The element as stored, and as a network (ipv4_addr)."""
        try:
            if self.type == "ether_addr":
                if not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", text):
                    raise ValueError(text)
                return text.lower(), None
            network = ipaddress.IPv4Network(text)  # strict: host bits set in a prefix are refused
        except ValueError as error:
            raise NftError(f"{text}: not a valid {self.type}") from error
        return (str(network.network_address) if network.prefixlen == 32 else str(network)), network


@dataclass(frozen=True)
class Match:
    """One relational expression: ``<subject> [!=] <value>``."""

    subject: str  # "ip saddr", "meta l4proto", "ct state", ...
    negate: bool
    kind: str  # scalar | anonymous | set | states
    value: Any  # a scalar, a tuple of scalars, a set's name, a frozenset of conntrack states


@dataclass(frozen=True)
class Nat:
    """A translation statement: ``dnat to ip daddr map @m``, ``snat to ip saddr map @m``,
    ``snat to ADDRESS``, ``masquerade``; like a verdict, it ends the chain — unless a map has
    no element for the packet (the rule then does not match)."""

    kind: str  # dnat | snat | masquerade
    address: str | None = None  # a fixed address
    map: str | None = None  # or a map looked up by the key below
    key: str | None = None  # "ip saddr" | "ip daddr"


@dataclass(frozen=True)
class Rule:
    matches: tuple[Match, ...]
    mark: int | None  # ct mark set <mark>
    verdict: str | None  # accept | drop | return | jump; None: go on with the next rule
    target: str | None  # the chain of a jump
    comment: str | None
    nat: Nat | None = None


@dataclass
class Chain:
    name: str
    type: str = "filter"  # filter | nat
    hook: str | None = None
    priority: int = 0
    policy: str = "accept"
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Table:
    family: str
    name: str
    sets: dict[str, NftSet] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)
    maps: dict[str, dict[str, str]] = field(default_factory=dict)  # ipv4_addr : ipv4_addr


class Ruleset:
    """The tables of one network namespace."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], Table] = {}

    def run(self, script: str) -> None:
        """Run an nft script as ``nft -f`` does: all of it, or (raising) nothing."""
        tables = copy.deepcopy(self.tables)
        _Script(script, tables).run()
        self.tables = tables

    def evaluate(self, family: str, hook: str, frame: Frame) -> Outcome:
        """A packet at ``hook``: every base chain of the family on that hook, by priority."""
        steps: list[Step] = []
        mark = [frame.ct_mark]
        for table, chain in self._base_chains(hook, "filter", family):
            verdict = _run_chain(table, chain, frame, steps, mark, depth=0)
            if verdict is None:
                verdict = chain.policy
                steps.append(Step(f"{table.family} {table.name}", chain.name, verdict, None, None))
            if verdict == "drop":
                return Outcome(False, tuple(steps), mark[0])
        return Outcome(True, tuple(steps), mark[0])

    def _base_chains(self, hook: str, kind: str, family: str | None = None) -> list[tuple[Table, Chain]]:
        """The base chains of ``kind`` on ``hook`` (of one family, or any), by priority."""
        found = [
            (chain.priority, table, chain)
            for table in self.tables.values()
            if family is None or table.family == family
            for chain in table.chains.values()
            if chain.hook == hook and chain.type == kind
        ]
        return [(table, chain) for _, table, chain in sorted(found, key=lambda item: item[0])]

    def translate(self, hook: str, frame: Frame, masquerade_as: str | None = None) -> Frame:
        """A new connection's first packet through the ``nat`` chains on ``hook`` (prerouting:
        destination, postrouting: source), in priority order: the first translation that
        applies wins. ``masquerade_as``: the address of the interface it leaves by."""
        if frame.ether_type != IPV4 or frame.ct_state != "new":
            return frame
        for table, chain in self._base_chains(hook, "nat"):
            for rule in chain.rules:
                if rule.nat is None or not all(
                    _matches(m, frame, table, frame.ct_mark) for m in rule.matches
                ):
                    continue
                address = _translation(rule.nat, table, frame, masquerade_as)
                if address is None:
                    continue  # no element for it in the map: the rule does not match
                if rule.nat.kind == "dnat":
                    return replace(frame, daddr=address)
                return replace(frame, saddr=address)
        return frame


def _translation(nat: Nat, table: Table, frame: Frame, masquerade_as: str | None) -> str | None:
    if nat.kind == "masquerade":
        if masquerade_as is None:
            raise NftError("masquerade: the model was not told the outgoing interface's address")
        return masquerade_as
    if nat.address is not None:
        return nat.address
    assert nat.map is not None and nat.key is not None
    key = frame.saddr if nat.key == "ip saddr" else frame.daddr
    return table.maps[nat.map].get(key or "")


def _run_chain(
    table: Table, chain: Chain, frame: Frame, steps: list[Step], mark: list[int], depth: int
) -> str | None:
    if depth > 16:
        raise NftError(f"chain {chain.name}: jumps nested too deep (a loop?)")
    where = f"{table.family} {table.name}"
    for position, rule in enumerate(chain.rules):
        if not all(_matches(m, frame, table, mark[0]) for m in rule.matches):
            continue
        if rule.mark is not None:
            mark[0] = rule.mark
        if rule.verdict is None:
            continue
        if rule.verdict == "jump":
            assert rule.target is not None
            steps.append(Step(where, chain.name, f"jump {rule.target}", rule.comment, position))
            outcome = _run_chain(table, table.chains[rule.target], frame, steps, mark, depth + 1)
            if outcome is not None:
                return outcome
            continue
        steps.append(Step(where, chain.name, rule.verdict, rule.comment, position))
        return None if rule.verdict == "return" else rule.verdict
    return None


# --- matching ------------------------------------------------------------------------------------


def _subject(subject: str, frame: Frame, mark: int) -> Any:
    """The value an expression reads from the packet, None when its dependency is not met."""
    ipv4 = frame.ether_type == IPV4
    transport = ipv4 and frame.l4proto in (6, 17)
    icmp = ipv4 and frame.l4proto == 1
    values: dict[str, Any] = {
        "meta nfproto": {IPV4: "ipv4", IPV6: "ipv6"}.get(frame.ether_type),
        "meta l4proto": frame.l4proto if ipv4 else None,
        "ip saddr": frame.saddr if ipv4 else None,
        "ip daddr": frame.daddr if ipv4 else None,
        "th sport": frame.sport if transport else None,
        "th dport": frame.dport if transport else None,
        "icmp type": frame.icmp_type if icmp else None,
        "icmp code": frame.icmp_code if icmp else None,
        "ct state": frame.ct_state,
        "ct mark": mark,
        "iifname": frame.iifname,
        "oifname": frame.oifname,
        "ether type": frame.ether_type,
        "ether saddr": frame.src_mac.lower(),
        "ether daddr": frame.dst_mac.lower(),
    }
    return values[subject]


def _scalar_matches(subject: str, value: Any, actual: Any) -> bool:
    if subject in ("ip saddr", "ip daddr"):
        return ipaddress.IPv4Address(actual) in value
    if subject in ("iifname", "oifname"):
        return actual.startswith(value[:-1]) if value.endswith("*") else actual == value
    if isinstance(value, tuple):  # a range low-high
        return bool(value[0] <= actual <= value[1])
    return bool(actual == value)


def _matches(match: Match, frame: Frame, table: Table, mark: int) -> bool:
    actual = _subject(match.subject, frame, mark)
    if actual is None:
        return False
    if match.kind == "states":
        found = actual in match.value
    elif match.kind == "set":
        found = table.sets[match.value].contains(actual)
    elif match.kind == "anonymous":
        found = any(_scalar_matches(match.subject, v, actual) for v in match.value)
    else:
        found = _scalar_matches(match.subject, match.value, actual)
    return found != match.negate


# --- parsing -------------------------------------------------------------------------------------


class _Script:
    """A recursive-descent parser that runs each command as it reads it."""

    def __init__(self, text: str, tables: dict[tuple[str, str], Table]) -> None:
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        self.tokens = _TOKEN.findall("\n".join(lines))
        self.at = 0
        self.tables = tables

    # tokens
    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, *expected: str) -> str:
        token = self.peek()
        if token is None:
            raise NftError(f"unexpected end of script (expected {' or '.join(expected) or 'more'})")
        if expected and token not in expected:
            raise NftError(f"unexpected {token!r} (expected {' or '.join(expected)})")
        self.at += 1
        return token

    def skip_newlines(self) -> None:
        while self.peek() in ("\n", ";"):
            self.at += 1

    def end_of_statement(self) -> None:
        if self.peek() not in (None, "\n", ";", "}"):
            raise NftError(f"unexpected {self.peek()!r} at the end of a statement")
        if self.peek() in ("\n", ";"):
            self.at += 1

    def name(self) -> str:
        token = self.take()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", token):
            raise NftError(f"{token!r} is not a name")
        return token

    def family(self) -> str:
        return self.take("inet", "bridge", "ip", "ip6", "arp", "netdev")

    # commands
    def run(self) -> None:
        self.skip_newlines()
        while self.peek() is not None:
            command = self.take("table", "delete", "add", "flush")
            if command == "table":
                self.table_block()
            elif command == "flush":
                self.take("ruleset")
                self.tables.clear()
            else:
                self.delete_or_add(command)
            self.end_of_statement()
            self.skip_newlines()
        for table in self.tables.values():  # nft checks at commit: every jump has its chain
            for chain in table.chains.values():
                for rule in chain.rules:
                    if rule.target is not None and rule.target not in table.chains:
                        raise NftError(f"chain {chain.name}: jump to unknown chain {rule.target}")
                    if rule.nat is not None and chain.type != "nat":
                        raise NftError(f"chain {chain.name}: {rule.nat.kind} outside a nat chain")
                    if rule.nat is not None and rule.nat.map is not None and rule.nat.map not in table.maps:
                        raise NftError(f"chain {chain.name}: no map {rule.nat.map}")

    def table_block(self) -> None:
        family, name = self.family(), self.name()
        table = self.tables.setdefault((family, name), Table(family, name))
        if self.peek() != "{":
            return
        self.take("{")
        self.skip_newlines()
        while self.peek() != "}":
            kind = self.take("set", "map", "chain")
            if kind == "set":
                self.set_block(table)
            elif kind == "map":
                self.map_block(table)
            else:
                self.chain_block(table)
            self.skip_newlines()
        self.take("}")

    def delete_or_add(self, command: str) -> None:
        what = self.take("table", "element")
        family, name = self.family(), self.name()
        key = (family, name)
        if what == "table":
            if command == "add":
                self.tables.setdefault(key, Table(family, name))
            elif self.tables.pop(key, None) is None:
                raise NftError(f"delete table {family} {name}: no such table")
            return
        table = self.tables.get(key)
        set_name = self.name()
        if table is None or set_name not in table.sets:
            raise NftError(f"{command} element {family} {name} {set_name}: no such set")
        for element in self.braced_list():
            (table.sets[set_name].add if command == "add" else table.sets[set_name].delete)(element)

    def braced_list(self) -> list[str]:
        self.take("{")
        items: list[str] = []
        while True:
            while self.peek() == "\n":
                self.at += 1
            if self.peek() == "}":
                break
            items.append(self.take())
            if self.peek() == "counter":  # an element's counter seed: "counter packets N bytes M"
                self.take("counter")
                self.take("packets")
                _integer(self.take())
                self.take("bytes")
                _integer(self.take())
            while self.peek() == "\n":
                self.at += 1
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise NftError(f"unexpected {self.peek()!r} in a list")
        self.take("}")
        return items

    def set_block(self, table: Table) -> None:
        name = self.name()
        if name in table.sets:
            raise NftError(f"set {name}: already defined in table {table.name}")
        self.take("{")
        self.skip_newlines()
        declared: NftSet | None = None
        elements: list[str] = []
        while self.peek() != "}":
            keyword = self.take("type", "flags", "elements", "counter")
            if keyword == "counter":  # per-element counters: count, decide nothing
                pass
            elif keyword == "type":
                declared = NftSet(self.take("ipv4_addr", "ether_addr"))
            elif keyword == "flags":
                self.take("interval")
                if declared is None:
                    raise NftError(f"set {name}: flags before its type")
                declared.interval = True
            else:
                self.take("=")
                elements += self.braced_list()
            self.end_of_statement()
            self.skip_newlines()
        self.take("}")
        if declared is None:
            raise NftError(f"set {name}: no type")
        for element in elements:
            declared.add(element)
        table.sets[name] = declared

    def map_block(self, table: Table) -> None:
        """``map NAME { type ipv4_addr : ipv4_addr; elements = { KEY : VALUE, ... } }``."""
        name = self.name()
        if name in table.maps or name in table.sets:
            raise NftError(f"map {name}: already defined in table {table.name}")
        self.take("{")
        self.skip_newlines()
        self.take("type")
        self.take("ipv4_addr")
        self.take(":")
        self.take("ipv4_addr")
        self.end_of_statement()
        self.skip_newlines()
        elements: dict[str, str] = {}
        if self.peek() == "elements":
            self.take("elements")
            self.take("=")
            for item in self.braced_pairs():
                key, value = (str(ipaddress.IPv4Address(part)) for part in item)
                if key in elements:
                    raise NftError(f"map {name}: {key} given twice")
                elements[key] = value
            self.end_of_statement()
            self.skip_newlines()
        self.take("}")
        table.maps[name] = elements

    def braced_pairs(self) -> list[tuple[str, str]]:
        """``{ a : b, c : d }``."""
        self.take("{")
        pairs: list[tuple[str, str]] = []
        while True:
            while self.peek() == "\n":
                self.at += 1
            if self.peek() == "}":
                break
            key = self.take()
            self.take(":")
            pairs.append((key, self.take()))
            while self.peek() == "\n":
                self.at += 1
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise NftError(f"unexpected {self.peek()!r} in a map's elements")
        self.take("}")
        return pairs

    def chain_block(self, table: Table) -> None:
        name = self.name()
        if name in table.chains:
            raise NftError(f"chain {name}: already defined in table {table.name}")
        chain = Chain(name)
        self.take("{")
        self.skip_newlines()
        while self.peek() != "}":
            if self.peek() == "type":
                self.take("type")
                chain.type = self.take("filter", "nat")
                self.take("hook")
                chain.hook = self.take("forward", "input", "output", "prerouting", "postrouting")
                self.take("priority")
                chain.priority = self.priority(table.family)
                self.end_of_statement()
            elif self.peek() == "policy":
                self.take("policy")
                chain.policy = self.take("accept", "drop")
                self.end_of_statement()
            else:
                chain.rules.append(self.rule())
            self.skip_newlines()
        self.take("}")
        table.chains[name] = chain

    def priority(self, family: str) -> int:
        token = self.take()
        if (family, token) in _PRIORITIES:
            return _PRIORITIES[(family, token)]
        try:
            return int(token)
        except ValueError as error:
            raise NftError(f"priority {token!r} unknown for family {family}") from error

    # rules
    def rule(self) -> Rule:
        matches: list[Match] = []
        mark: int | None = None
        verdict: str | None = None
        target: str | None = None
        comment: str | None = None
        nat: Nat | None = None
        while self.peek() not in (None, "\n", ";", "}"):
            token = self.take()
            if (verdict is not None or nat is not None) and token != "comment":
                raise NftError(f"{token!r} after the verdict {verdict or nat}")
            if token in ("accept", "drop", "return"):
                verdict = token
            elif token == "masquerade":
                nat = Nat("masquerade")
            elif token in ("dnat", "snat"):
                self.take("to")
                if self.peek() == "ip":
                    self.take("ip")
                    key = f"ip {self.take('saddr', 'daddr')}"
                    self.take("map")
                    target_map = self.take()
                    if not target_map.startswith("@"):
                        raise NftError(f"{token} to {key} map {target_map}: a named map (@name) only")
                    nat = Nat(token, map=target_map[1:], key=key)
                else:
                    nat = Nat(token, address=str(_value("ip saddr", self.take()).network_address))
            elif token == "jump":
                verdict, target = "jump", self.name()
            elif token == "limit":  # "limit rate N/second burst N packets": the model never limits
                self.take("rate")
                self.take()
                if self.peek() == "burst":
                    self.take("burst")
                    _integer(self.take())
                    self.take("packets")
            elif token == "log":  # "log prefix TEXT group N": logs, decides nothing
                while self.peek() in ("prefix", "group"):
                    option = self.take()
                    value = self.take()
                    if option == "group":
                        _integer(value)
            elif token == "counter":  # counts, decides nothing (a seed: "packets N bytes M")
                if self.peek() == "packets":
                    self.take("packets")
                    _integer(self.take())
                    self.take("bytes")
                    _integer(self.take())
            elif token == "comment":
                text = self.take()
                if not (text.startswith('"') and text.endswith('"')):
                    raise NftError(f"comment {text!r}: not a quoted string")
                comment = text[1:-1]
            elif token == "ct" and self.tokens[self.at : self.at + 2] == ["mark", "set"]:
                self.at += 2
                mark = _integer(self.take())
            elif token in ("meta", "ip", "th", "icmp", "ct", "ether"):
                matches.append(self.match(f"{token} {self.take()}"))
            elif token in ("iifname", "oifname"):
                matches.append(self.match(token))
            else:
                raise NftError(f"unknown expression or statement {token!r}")
        self.end_of_statement()
        return Rule(tuple(matches), mark, verdict, target, comment, nat)

    def match(self, subject: str) -> Match:
        known = {"meta nfproto", "meta l4proto", "ip saddr", "ip daddr", "th sport", "th dport",
                 "icmp type", "icmp code", "ct state", "ct mark", "iifname", "oifname",
                 "ether type", "ether saddr", "ether daddr"}  # fmt: skip
        if subject not in known:
            raise NftError(f"unknown expression {subject!r}")
        negate = False
        if self.peek() in ("!=", "=="):
            negate = self.take() == "!="
        if subject == "ct state":
            states = {self.take()}
            while self.peek() == ",":
                self.at += 1
                states.add(self.take())
            if not states <= _CT_STATES:
                raise NftError(f"ct state {sorted(states - _CT_STATES)}: unknown")
            return Match(subject, negate, "states", frozenset(states))
        if self.peek() == "{":
            values = tuple(_value(subject, item) for item in self.braced_list())
            return Match(subject, negate, "anonymous", values)
        token = self.take()
        if token.startswith("@"):
            return Match(subject, negate, "set", token[1:])
        return Match(subject, negate, "scalar", _value(subject, token))


def _integer(token: str) -> int:
    try:
        return int(token, 0)
    except ValueError as error:
        raise NftError(f"{token!r} is not a number") from error


def _value(subject: str, token: str) -> Any:
    """A literal as the expression's type takes it."""
    if subject in ("ip saddr", "ip daddr"):
        try:
            return ipaddress.IPv4Network(token)
        except ValueError as error:
            raise NftError(f"{token!r} is not an IPv4 address or prefix") from error
    if subject in ("iifname", "oifname"):
        if not (token.startswith('"') and token.endswith('"')):
            raise NftError(f"{subject} {token}: not a quoted string")
        return token[1:-1]
    if subject == "meta nfproto":
        if token not in ("ipv4", "ipv6"):
            raise NftError(f"meta nfproto {token}: unknown")
        return token
    if subject in ("th sport", "th dport"):
        low, dash, high = token.partition("-")
        bounds = (_integer(low), _integer(high) if dash else _integer(low))
        if not 0 <= bounds[0] <= bounds[1] <= 65535:
            raise NftError(f"{subject} {token}: not a port or a range of ports")
        return bounds if dash else bounds[0]
    if subject == "meta l4proto":
        return _PROTOCOLS[token] if token in _PROTOCOLS else _integer(token)
    if subject == "icmp type":
        return _ICMP_TYPES[token] if token in _ICMP_TYPES else _integer(token)
    if subject == "ether type":
        return _ETHER_TYPES[token] if token in _ETHER_TYPES else _integer(token)
    if subject in ("ether saddr", "ether daddr"):
        return token.lower()
    return _integer(token)
