"""The compliance language: sentences that read like the intent, parsed to plain data (pure).

One sentence per line (``#`` starts a comment)::

    no flow from S to D [on SERVICES]
    nothing outside X may reach X [except S [on SERVICES]]
    X may reach nothing outside X [except D [on SERVICES]]
    only S may reach D [on SERVICES]
    S must reach D on SERVICES
    X is isolated
    each enterprise is isolated
    no path from S to D within N hops [except through M]

Selectors: ``pg:NAME``, ``zone:NAME``, ``subnet:NAME``, ``domain:NAME``, ``enterprise:NAME``,
``app:NAME``, ``tier:APP/TIER``, ``macro:NAME`` (an enterprise network or macro group: outside
addresses), an address or CIDR (``198.51.100.0/24``), ``any``; combined with ``and``, ``or``,
``not`` and parentheses; ``outside X`` is ``not X``. Names with spaces are quoted
(``subnet:"wordpress - db"``). Services: ``tcp/443``, ``udp/53``, ``tcp/1000-2000``, ``icmp``,
``any``, ``service:NAME`` (an application designer service), several separated by commas.

Errors name the line and column and what was expected (:class:`SentenceError`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lark import Lark, Token, Transformer, UnexpectedInput, v_args

_GRAMMAR = r"""
start: sentence
?sentence: no_flow | inbound | outbound | only | must | isolated | each_isolated | no_path

no_flow: _NO _FLOW _FROM sel _TO sel services?
inbound: _NOTHING _OUTSIDE sel _MAY _REACH sel exception?
outbound: sel _MAY _REACH _NOTHING _OUTSIDE sel exception?
only: _ONLY sel _MAY _REACH sel services?
must: sel _MUST _REACH sel services
isolated: sel _IS _ISOLATED
each_isolated: _EACH _ENTERPRISE_WORD _IS _ISOLATED
no_path: _NO _PATH _FROM sel _TO sel _WITHIN INT _HOPS through?
exception: _EXCEPT sel services?
through: _EXCEPT _THROUGH sel
services: _ON service ("," service)*

?sel: or_sel
?or_sel: and_sel (_OR and_sel)*  -> either
?and_sel: not_sel (_AND not_sel)* -> both
?not_sel: _NOT not_sel -> negation
        | _OUTSIDE not_sel -> negation
        | primary
?primary: "(" sel ")"
        | KIND ":" value -> named
        | CIDR -> address
        | _ANY -> anything
?value: NAME -> word
      | STRING -> quoted

service: PROTO "/" PORTS -> ported
       | PROTO -> bare
       | _SERVICE_WORD ":" value -> named_service

_NO.2: /no\b/i
_FLOW.2: /flow\b/i
_FROM.2: /from\b/i
_TO.2: /to\b/i
_NOTHING.2: /nothing\b/i
_OUTSIDE.2: /outside\b/i
_MAY.2: /may\b/i
_REACH.2: /reach\b/i
_ONLY.2: /only\b/i
_MUST.2: /must\b/i
_IS.2: /is\b/i
_ISOLATED.2: /isolated\b/i
_EACH.2: /each\b/i
_ENTERPRISE_WORD.2: /enterprise\b(?!:)/i
_PATH.2: /path\b/i
_WITHIN.2: /within\b/i
_HOPS.2: /hops?\b/i
_EXCEPT.2: /except\b/i
_THROUGH.2: /through\b/i
_ON.2: /on\b/i
_AND.2: /and\b/i
_OR.2: /or\b/i
_NOT.2: /not\b/i
_ANY.2: /any\b(?!\/)/i
_SERVICE_WORD.3: /service(?=:)/i
KIND.3: /(pg|zone|subnet|domain|enterprise|app|tier|macro)(?=:)/i
PROTO.2: /(tcp|udp|icmp|any)\b/i
PORTS: /\d+(-\d+)?/
CIDR.3: /\d+\.\d+\.\d+\.\d+(\/\d+)?/
INT: /\d+/
NAME: /[A-Za-z0-9_][A-Za-z0-9_.\/-]*/
STRING: /"(?:[^"\\]|\\.)*"/
%ignore /[ \t]+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}
_GUARDS = {"inbound": "nothing outside X may reach X", "outbound": "X may reach nothing outside X"}


class SentenceError(ValueError):
    """A sentence that does not parse: where, and what was expected."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line, self.column = line, column


# --- the parsed form ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    kind: str  # pg zone subnet domain enterprise app tier macro
    name: str


@dataclass(frozen=True)
class Address:
    cidr: str


@dataclass(frozen=True)
class Anything:
    pass


@dataclass(frozen=True)
class Not:
    operand: Selector


@dataclass(frozen=True)
class All:
    operands: tuple[Selector, ...]


@dataclass(frozen=True)
class Some:
    operands: tuple[Selector, ...]


Selector = Named | Address | Anything | Not | All | Some


@dataclass(frozen=True)
class Service:
    """A protocol (None: any) and a destination port range (None: any), or a named service."""

    protocol: int | None
    ports: tuple[int, int] | None = None
    name: str | None = None  # service:NAME, resolved against the directory's services


@dataclass(frozen=True)
class Sentence:
    """One line: its form and its parts. ``services`` empty = any traffic."""

    form: str  # no_flow inbound outbound only must isolated each_isolated no_path
    line: int
    text: str
    source: Selector | None = None
    destination: Selector | None = None
    services: tuple[Service, ...] = ()
    exception: Selector | None = None  # inbound/outbound: who may; no_path: through whom
    exception_services: tuple[Service, ...] = ()
    hops: int = 0


# --- parsing -----------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


@v_args(inline=True)
class _Build(Transformer):  # type: ignore[type-arg]
    def named(self, kind: Token, value: str) -> Named:
        return Named(str(kind).lower(), value)

    def word(self, token: Token) -> str:
        return str(token)

    def quoted(self, token: Token) -> str:
        return _unquote(str(token))

    def address(self, token: Token) -> Address:
        try:
            return Address(str(ipaddress.IPv4Network(str(token), strict=False)))
        except ValueError:
            raise ValueError(f"'{token}' is not an IPv4 address or network") from None

    def anything(self) -> Anything:
        return Anything()

    def negation(self, operand: Selector) -> Not:
        return Not(operand)

    def either(self, *operands: Selector) -> Selector:
        return operands[0] if len(operands) == 1 else Some(operands)

    def both(self, *operands: Selector) -> Selector:
        return operands[0] if len(operands) == 1 else All(operands)

    def ported(self, proto: Token, ports: Token) -> Service:
        name = str(proto).lower()
        if name not in ("tcp", "udp"):
            raise ValueError(f"only tcp and udp have ports, not {name}")
        low, _, high = str(ports).partition("-")
        bounds = (int(low), int(high or low))
        if bounds[0] > bounds[1] or bounds[1] > 65535:
            raise ValueError(f"'{ports}' is not a port or a range LOW-HIGH within 0-65535")
        return Service(PROTOCOLS[name], bounds)

    def bare(self, proto: Token) -> Service:
        name = str(proto).lower()
        return Service(None if name == "any" else PROTOCOLS[name])

    def named_service(self, value: str) -> Service:
        return Service(None, name=value)

    def services(self, *items: Service) -> tuple[Service, ...]:
        return items

    def exception(
        self, selector: Selector, services: tuple[Service, ...] = ()
    ) -> tuple[Selector, tuple[Service, ...]]:
        return selector, services

    def through(self, selector: Selector) -> Selector:
        return selector


_EXPECTED = {
    "KIND": "a selector such as pg:web",
    "CIDR": "an address",
    "_ANY": "any",
    "PROTO": "a service such as tcp/443",
    "_SERVICE_WORD": "service:NAME",
    "INT": "a number",
    "_TO": "'to'",
    "_MAY": "'may'",
    "_REACH": "'reach'",
    "_ON": "'on'",
    "_HOPS": "'hops'",
    "_ISOLATED": "'isolated'",
    "_NOTHING": "'nothing'",
    "_OUTSIDE": "'outside'",
    "_EXCEPT": "'except'",
    "_THROUGH": "'through'",
    "_WITHIN": "'within'",
    "_FLOW": "'flow'",
    "_PATH": "'path'",
    "_FROM": "'from'",
    "$END": "the end of the sentence",
}


def _expected(exc: UnexpectedInput) -> str:
    names = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    described = sorted({_EXPECTED.get(n, n.strip("_").lower()) for n in names})
    return ", ".join(described[:6]) if described else "a sentence (see docs/operations.md)"


def parse_sentence(text: str, line: int = 1) -> Sentence:
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        at_end = token is not None and token.type == "$END"
        column = len(text.rstrip()) + 1 if at_end else (exc.column or 1)
        found = "the end of the line" if at_end else f"'{text[column - 1 :].split()[0]}'"
        raise SentenceError(f"expected {_expected(exc)}, found {found}", line, column) from None
    try:
        node = _Build().transform(tree).children[0]
    except Exception as exc:  # lark wraps the transformer's ValueError in VisitError
        cause = exc.__context__ or exc
        raise SentenceError(str(cause), line, 1) from None
    form = str(node.data)
    parts = node.children
    stripped = text.strip()
    if form == "no_flow":
        return Sentence(form, line, stripped, parts[0], parts[1], parts[2] if len(parts) > 2 else ())
    if form in ("inbound", "outbound"):
        first, second = parts[0], parts[1]
        if first != second:
            raise SentenceError(
                f"the two selectors of '{_GUARDS[form]}' must be the same",
                line,
                1,
            )
        exception, services = parts[2] if len(parts) > 2 else (None, ())
        return Sentence(form, line, stripped, first, first, exception=exception, exception_services=services)
    if form == "only":
        return Sentence(form, line, stripped, parts[0], parts[1], parts[2] if len(parts) > 2 else ())
    if form == "must":
        return Sentence(form, line, stripped, parts[0], parts[1], parts[2])
    if form == "isolated":
        return Sentence(form, line, stripped, parts[0], parts[0])
    if form == "each_isolated":
        return Sentence(form, line, stripped)
    hops = int(str(parts[2]))
    if not 1 <= hops <= 16:
        raise SentenceError("the number of hops is 1-16", line, 1)
    return Sentence(
        form, line, stripped, parts[0], parts[1], hops=hops, exception=parts[3] if len(parts) > 3 else None
    )


def parse_policy(text: str) -> list[Sentence]:
    """Every sentence of a policy's text; :class:`SentenceError` for the first that does not parse."""
    sentences = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if '"' not in raw else _strip_comment(raw)
        if line.strip():
            sentences.append(parse_sentence(line, number))
    if not sentences:
        raise SentenceError("a policy needs at least one sentence", 1, 1)
    return sentences


def _strip_comment(raw: str) -> str:
    quoted = False
    for index, char in enumerate(raw):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return raw[:index]
    return raw
