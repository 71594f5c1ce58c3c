"""The filter language: parsing, and SQL that agrees with the Python evaluator on every input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, select

from overcast.directory import filters
from overcast.directory.db import metadata, objects
from overcast.directory.errors import VsdError
from overcast.directory.filters import And, Compare, FreeText, Literal, Name, Not, Or
from overcast.directory.schema import REGISTRY

ZONE = REGISTRY.entity("zone")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name == "x"', Compare(Name("name"), "==", Literal("x"))),
        ("name = 'x'", Compare(Name("name"), "==", Literal("x"))),
        ("name is 'x'", Compare(Name("name"), "IS", Literal("x"))),
        ("policyGroupID >= 3", Compare(Name("policyGroupID"), ">=", Literal(3))),
        ("'u' IN domainIDs", Compare(Literal("u"), "IN", Name("domainIDs"))),
        ("name IN ('a', \"b\")", Compare(Name("name"), "IN", (Literal("a"), Literal("b")))),
        ("name == 'it\\'s'", Compare(Name("name"), "==", Literal("it's"))),
        ("description ISNOT null", Compare(Name("description"), "ISNOT", Literal(None))),
        ("publicZone == true", Compare(Name("publicZone"), "==", Literal(True))),
        (
            "a == 1 and (b == 2 or not c == 3)",
            And(
                (
                    Compare(Name("a"), "==", Literal(1)),
                    Or((Compare(Name("b"), "==", Literal(2)), Not(Compare(Name("c"), "==", Literal(3))))),
                )
            ),
        ),
        ("web servers", FreeText("web servers")),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert filters.parse_filter(text) == expected


@pytest.mark.parametrize("text", ["name ==", "== 'x'", "(name == 'x'", "name == 'x' AND", "name ~ 'x'", ""])
def test_invalid_filters_are_400(text: str) -> None:
    with pytest.raises(VsdError) as info:
        filters.parse_filter(text)
    assert info.value.status == 400 and info.value.property == "X-Nuage-Filter"


def test_unknown_attribute_and_bad_value_are_400() -> None:
    for text in ("nosuch == 1", "policyGroupID == 'abc'", "password == 'x'"):
        with pytest.raises(VsdError) as info:
            filters.to_sql(filters.parse_filter(text), ZONE)
        assert info.value.status == 400


# --- SQL and Python agree ----------------------------------------------------------------

names = st.sampled_from(["web", "Web-1", "db_2", "a%b", "x'y", "", "zone"])
zone_objects = st.fixed_dictionaries(
    {
        "name": names,
        "description": st.none() | names,
        "policyGroupID": st.none() | st.integers(-3, 5),
        "maintenanceMode": st.none() | st.sampled_from(["DISABLED", "ENABLED", "ENABLED_INHERITED"]),
        "publicZone": st.none() | st.booleans(),
    }
)
string_attr = st.sampled_from(["name", "description", "maintenanceMode"])
comparisons = st.one_of(
    st.builds(
        lambda a, op, v: Compare(Name(a), op, Literal(v)),
        string_attr,
        st.sampled_from(["==", "!=", "IS", "ISNOT", "CONTAINS", "BEGINSWITH", "ENDSWITH", "LIKE", "<", ">="]),
        names,
    ),
    st.builds(
        lambda op, v: Compare(Name("policyGroupID"), op, Literal(v)),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        st.integers(-3, 5),
    ),
    st.builds(lambda v: Compare(Name("publicZone"), "==", Literal(v)), st.booleans()),
    st.builds(
        lambda a, op: Compare(Name(a), op, Literal(None)), string_attr, st.sampled_from(["==", "ISNOT"])
    ),
    st.builds(
        lambda vs: Compare(Name("name"), "IN", tuple(Literal(v) for v in vs)), st.lists(names, max_size=3)
    ),
    st.builds(FreeText, st.sampled_from(["web", "B", "%", "zone"])),
)
trees = st.recursive(
    comparisons,
    lambda children: st.one_of(
        st.builds(lambda xs: And(tuple(xs)), st.lists(children, min_size=2, max_size=3)),
        st.builds(lambda xs: Or(tuple(xs)), st.lists(children, min_size=2, max_size=3)),
        st.builds(Not, children),
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    return engine


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(zone_objects, min_size=1, max_size=8), tree=trees)
def test_sql_equals_python(engine, rows, tree) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        conn.execute(objects.delete())
        for i, data in enumerate(rows):
            conn.execute(
                insert(objects).values(
                    id=f"id-{i}", kind="zone", name=data["name"], data=data, created=0, updated=0
                )
            )
        by_sql = {
            r[0]
            for r in conn.execute(
                select(objects.c.id).where(objects.c.kind == "zone", filters.to_sql(tree, ZONE))
            )
        }
    by_python = {f"id-{i}" for i, data in enumerate(rows) if filters.evaluate(tree, ZONE, data) is True}
    assert by_sql == by_python
