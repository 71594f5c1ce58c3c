"""``X-Nuage-Filter`` and ``X-Nuage-OrderBy``: parse once, then compile to SQL or evaluate.

Grammar (vsd-api.md §5): comparisons ``== = != < <= > >=``, keywords ``IS ISNOT CONTAINS
BEGINSWITH ENDSWITH LIKE IN`` (case-insensitive), ``AND OR NOT``, parentheses, single- or
double-quoted strings, numbers, ``true false null``. ``'x' IN listAttr`` tests membership of a
list attribute, ``attr IN ("a", "b")`` membership of a value in a list. A filter without any
operator is free text, matched against ``name`` and ``description``.

Semantics shared by both back ends, pinned by a property test that runs the SQL and the Python
evaluator over the same objects: equality is exact; CONTAINS / BEGINSWITH / ENDSWITH / LIKE are
case-insensitive (LIKE takes SQL wildcards ``%`` and ``_``); a comparison with a missing value is
unknown, and unknown is not a match, also under NOT (SQL's three-valued logic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput
from sqlalchemy import and_, false, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from .db import objects
from .errors import bad_request
from .schema import Attr, Entity
from .validation import coerce

_GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: "(" expr ")"
     | comparison
comparison: operand OP operand
          | operand OP values
values: "(" [operand ("," operand)*] ")"
?operand: NAME -> name
        | STRING -> string
        | NUMBER -> number
        | TRUE -> true
        | FALSE -> false
        | NULL -> null

OP.2: "==" | "!=" | "<=" | ">=" | "<" | ">" | "="
    | /ISNOT\b/i | /IS\b/i | /CONTAINS\b/i | /BEGINSWITH\b/i | /ENDSWITH\b/i | /LIKE\b/i
    | /IN\b/i
_AND.2: /AND\b/i | "&&"
_OR.2: /OR\b/i | "||"
_NOT.2: /NOT\b/i | "!"
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i | /nil\b/i
NAME: /[A-Za-z_][A-Za-z0-9_.]*/
STRING: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
NUMBER: /-?\d+(\.\d+)?/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)
_OPERATOR_HINTS = ("=", "<", ">", "!", "(", "&", "|", "'", '"')
_KEYWORDS = {"IS", "ISNOT", "CONTAINS", "BEGINSWITH", "ENDSWITH", "LIKE", "IN", "AND", "OR", "NOT"}


@dataclass(frozen=True)
class Name:
    attr: str


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Compare:
    left: Name | Literal
    op: str
    right: Name | Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class And:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    part: Any


@dataclass(frozen=True)
class FreeText:
    text: str


Node = Compare | And | Or | Not | FreeText


def _unquote(token: str) -> str:
    body = token[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            i += 1
            ch = body[i]
        out.append(ch)
        i += 1
    return "".join(out)


class _ToAst(Transformer[Token, Node]):
    def name(self, items: list[Token]) -> Name:
        return Name(str(items[0]))

    def string(self, items: list[Token]) -> Literal:
        return Literal(_unquote(str(items[0])))

    def number(self, items: list[Token]) -> Literal:
        text = str(items[0])
        return Literal(float(text) if "." in text else int(text))

    def true(self, _items: list[Token]) -> Literal:
        return Literal(True)

    def false(self, _items: list[Token]) -> Literal:
        return Literal(False)

    def null(self, _items: list[Token]) -> Literal:
        return Literal(None)

    def values(self, items: list[Any]) -> tuple[Literal, ...]:
        for item in items:
            if not isinstance(item, Literal):
                raise ValueError("a list holds literal values only")
        return tuple(items)

    def comparison(self, items: list[Any]) -> Compare:
        left, op, right = items
        op = str(op).upper()
        if op == "=":
            op = "=="
        return Compare(left, op, right)

    def and_expr(self, items: list[Any]) -> And:
        return And(tuple(items))

    def or_expr(self, items: list[Any]) -> Or:
        return Or(tuple(items))

    def negation(self, items: list[Any]) -> Not:
        return Not(items[0])


#: A filter's cost bound: its length, and how many comparisons it makes. Every comparison of a
#: JSON attribute is evaluated per row scanned; four concurrent 1,000-term filters once pushed
#: another tenant's latency from 10 ms to 0.5-0.8 s (and a 1,000-term OR answered a 500).
MAX_FILTER_LENGTH = 4096
MAX_FILTER_TERMS = 64


def _terms(node: Node) -> int:
    if isinstance(node, And | Or):
        return sum(_terms(part) for part in node.parts)
    if isinstance(node, Not):
        return _terms(node.part)
    return 1


def parse_filter(text: str) -> Node:
    """Parse a filter; raise a 400 VSD error naming the problem when it is not valid or costs
    more than the bounds allow."""
    text = text.strip()
    if not text:
        raise bad_request("The filter is empty.", prop="X-Nuage-Filter")
    if len(text) > MAX_FILTER_LENGTH:
        raise bad_request(
            f"The filter is longer than {MAX_FILTER_LENGTH} characters ({len(text)}).", prop="X-Nuage-Filter"
        )
    node = _parse(text)
    terms = _terms(node)
    if terms > MAX_FILTER_TERMS:
        raise bad_request(
            f"The filter makes more than {MAX_FILTER_TERMS} comparisons ({terms}).", prop="X-Nuage-Filter"
        )
    return node


def _parse(text: str) -> Node:
    words = text.split()
    if not any(h in text for h in _OPERATOR_HINTS) and not any(w.upper() in _KEYWORDS for w in words):
        return FreeText(text)
    try:
        return _ToAst().transform(_PARSER.parse(text))
    except UnexpectedInput as exc:
        raise bad_request(f"Invalid filter at column {exc.column}: {text!r}", prop="X-Nuage-Filter") from None
    except Exception as exc:  # lark wraps transformer errors in VisitError
        raise bad_request(f"Invalid filter {text!r}: {exc}", prop="X-Nuage-Filter") from None


# --- checking a parsed filter against an entity -------------------------------------------

_COLUMN_ATTRS = {
    "ID": objects.c.id,
    "parentID": objects.c.parent_id,
    "parentType": objects.c.parent_type,
    "creationDate": objects.c.created,
    "lastUpdatedDate": objects.c.updated,
}
_META_TYPES = {
    "ID": "str",
    "parentID": "str",
    "parentType": "str",
    "creationDate": "int",
    "lastUpdatedDate": "int",
    "owner": "str",
    "lastUpdatedBy": "str",
    "externalID": "str",
    "entityScope": "str",
}
_TEXT_OPS = {"CONTAINS", "BEGINSWITH", "ENDSWITH", "LIKE"}


def _attr(entity: Entity, name: str) -> Attr:
    if name in _META_TYPES:
        return Attr(name, _META_TYPES[name], None)
    attr = entity.attrs.get(name)
    if attr is None or name == "password":
        raise bad_request(
            f"Unknown attribute '{name}' for {entity.rest_name} in filter", prop="X-Nuage-Filter"
        )
    return attr


def _typed(attr: Attr, literal: Literal) -> Any:
    if literal.value is None:
        return None
    if attr.type in ("list", "dict"):
        return str(literal.value)
    try:
        return coerce(Attr(attr.name, attr.type, None), literal.value)
    except Exception:
        raise bad_request(
            f"'{literal.value}' cannot be compared with {attr.name} ({attr.type})",
            prop="X-Nuage-Filter",
        ) from None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pattern(op: str, text: str) -> str:
    """A lower-cased SQL LIKE pattern for a text operator."""
    if op == "LIKE":
        return text.lower()
    escaped = _like_escape(text.lower())
    return {"CONTAINS": f"%{escaped}%", "BEGINSWITH": f"{escaped}%", "ENDSWITH": f"%{escaped}"}[op]


# --- SQL -----------------------------------------------------------------------------------


def _column(entity: Entity, attr: Attr) -> Any:
    if attr.name in _COLUMN_ATTRS:
        return _COLUMN_ATTRS[attr.name]
    if attr.name == "name" and "name" in entity.attrs:
        return objects.c.name
    element = objects.c.data[attr.name]
    return {
        "int": element.as_integer(),
        "float": element.as_float(),
        "bool": element.as_boolean(),
    }.get(attr.type, element.as_string())


def to_sql(node: Node, entity: Entity) -> ColumnElement[bool]:
    """Compile a parsed filter to a WHERE clause over ``objects`` rows of ``entity``."""
    if isinstance(node, And):
        # Conditions on real columns first: cheaper than JSON extraction, evaluated first.
        parts = sorted(node.parts, key=lambda p: not _on_columns(p, entity))
        return and_(*(to_sql(p, entity) for p in parts))
    if isinstance(node, Or):
        return or_(*(to_sql(p, entity) for p in node.parts))
    if isinstance(node, Not):
        return not_(to_sql(node.part, entity))
    if isinstance(node, FreeText):
        pattern = f"%{_like_escape(node.text.lower())}%"
        clauses = [func.lower(objects.c.name).like(pattern, escape="\\")]
        if "description" in entity.attrs:
            clauses.append(func.lower(objects.c.data["description"].as_string()).like(pattern, escape="\\"))
        return or_(*clauses)
    return _compare_sql(node, entity)


def _on_columns(node: Node, entity: Entity) -> bool:
    """Whether a condition reads only indexed columns (no JSON extraction)."""
    if isinstance(node, Compare):
        name = node.left.attr if isinstance(node.left, Name) else None
        return name in _COLUMN_ATTRS or (name == "name" and "name" in entity.attrs)
    if isinstance(node, (And, Or)):
        return all(_on_columns(p, entity) for p in node.parts)
    if isinstance(node, Not):
        return _on_columns(node.part, entity)
    return False


def _prefix_range(column: Any, prefix: str) -> ColumnElement[bool]:
    """``lower(column)`` starts with ``prefix``, as a range an index on lower(name) can serve."""
    lowered = prefix.lower()
    upper = lowered[:-1] + chr(ord(lowered[-1]) + 1)
    return and_(func.lower(column) >= lowered, func.lower(column) < upper)


def _compare_sql(node: Compare, entity: Entity) -> ColumnElement[bool]:
    op = node.op
    if isinstance(node.left, Literal) and isinstance(node.right, Name) and op == "IN":
        attr = _attr(entity, node.right.attr)
        if attr.type != "list":
            raise bad_request(f"'{attr.name}' is not a list attribute", prop="X-Nuage-Filter")
        element = objects.c.data[attr.name].as_string()
        value = str(node.left.value).replace('"', '\\"')
        return element.like(f'%"{_like_escape(value)}"%', escape="\\")
    if not isinstance(node.left, Name):
        raise bad_request("A comparison must start with an attribute name", prop="X-Nuage-Filter")
    attr = _attr(entity, node.left.attr)
    column = _column(entity, attr)
    if op == "IN":
        if not isinstance(node.right, tuple):
            raise bad_request('IN takes a list: attr IN ("a", "b")', prop="X-Nuage-Filter")
        values = [_typed(attr, v) for v in node.right if v.value is not None]
        return column.in_(values) if values else false()
    if not isinstance(node.right, Literal):
        raise bad_request("Compare an attribute with a value", prop="X-Nuage-Filter")
    value = _typed(attr, node.right)
    if value is None:
        if op in ("==", "IS"):
            return column.is_(None)
        if op in ("!=", "ISNOT"):
            return column.is_not(None)
        raise bad_request(f"null cannot be used with {op}", prop="X-Nuage-Filter")
    if op in _TEXT_OPS:
        like = func.lower(column).like(_pattern(op, str(value)), escape="\\")
        if op == "BEGINSWITH" and column is objects.c.name and str(value):
            return and_(_prefix_range(column, str(value)), like)
        return like
    return {
        "==": lambda: column == value,
        "IS": lambda: column == value,
        "!=": lambda: column != value,
        "ISNOT": lambda: column != value,
        "<": lambda: column < value,
        "<=": lambda: column <= value,
        ">": lambda: column > value,
        ">=": lambda: column >= value,
    }[op]()


# --- Python (three-valued, the same semantics as the SQL) ----------------------------------


def _like_match(pattern: str, text: str) -> bool:
    import re

    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), text, flags=re.DOTALL) is not None


def _any3(results: list[bool | None]) -> bool | None:
    """Three-valued OR."""
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def evaluate(node: Node, entity: Entity, obj: dict[str, Any]) -> bool | None:
    """True, False or None (unknown) for one object's JSON, exactly as ``to_sql`` decides."""
    if isinstance(node, And):
        results = [evaluate(p, entity, obj) for p in node.parts]
        if any(r is False for r in results):
            return False
        return None if any(r is None for r in results) else True
    if isinstance(node, Or):
        return _any3([evaluate(p, entity, obj) for p in node.parts])
    if isinstance(node, Not):
        result = evaluate(node.part, entity, obj)
        return None if result is None else not result
    if isinstance(node, FreeText):
        pattern = f"%{_like_escape(node.text.lower())}%"
        results = [
            None if obj.get(k) is None else _like_match(pattern, str(obj[k]).lower())
            for k in ("name", "description")
            if k in entity.attrs
        ]
        return _any3(results)
    return _compare_py(node, entity, obj)


def _compare_py(node: Compare, entity: Entity, obj: dict[str, Any]) -> bool | None:
    op = node.op
    if isinstance(node.left, Literal) and isinstance(node.right, Name):
        attr = _attr(entity, node.right.attr)
        current = obj.get(attr.name)
        if current is None:
            return None
        return str(node.left.value) in [str(v) for v in current]
    assert isinstance(node.left, Name)
    attr = _attr(entity, node.left.attr)
    current = obj.get(attr.name)
    if op == "IN":
        assert isinstance(node.right, tuple)
        values = [_typed(attr, v) for v in node.right if v.value is not None]
        if current is None:
            return None if values else False
        return current in values
    assert isinstance(node.right, Literal)
    value = _typed(attr, node.right)
    if value is None:
        return (current is None) if op in ("==", "IS") else (current is not None)
    if current is None:
        return None
    if op in _TEXT_OPS:
        return _like_match(_pattern(op, str(value)), str(current).lower())
    return {
        "==": current == value,
        "IS": current == value,
        "!=": current != value,
        "ISNOT": current != value,
        "<": current < value,
        "<=": current <= value,
        ">": current > value,
        ">=": current >= value,
    }[op]


# --- ordering ------------------------------------------------------------------------------


def parse_order(text: str, entity: Entity) -> list[Any]:
    """``name DESC, creationDate ASC`` -> SQLAlchemy ORDER BY clauses."""
    clauses = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise bad_request(f"Invalid order clause {part.strip()!r}", prop="X-Nuage-OrderBy")
        column = _column(entity, _attr(entity, words[0]))
        descending = len(words) == 2 and words[1].upper() == "DESC"
        clauses.append(column.desc() if descending else column.asc())
    return clauses
