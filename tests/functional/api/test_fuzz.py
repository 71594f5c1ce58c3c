"""Property-based fuzzing of the HTTP API: no input makes it fail (5xx), and a request that
fails commits nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from overcast.client.vsd import VsdClient
from overcast.directory.db import addresses, changes, members, objects, scopes
from overcast.directory.schema import REGISTRY, Entity
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory, served_directory

IDS: list[str] = []  # IDs of real objects: made by the fixture, then by successful examples
KNOWN: dict[str, list[str]] = {}  # the same, by entity


def _nth(pool: Callable[[], list[str]]) -> st.SearchStrategy[str]:
    """An element of a list that grows while the test runs. The draw is an index, so the data
    hypothesis records has the same shape whatever the list holds when it is replayed
    (sampling the list itself makes hypothesis report a flaky strategy)."""
    return st.integers(0, 1 << 16).map(lambda i: (pool() or ["x"])[i % max(1, len(pool()))])


def ident_for(rest_name: str) -> st.SearchStrategy[str]:
    """Mostly the ID of a real object of that entity, sometimes of another, sometimes made up."""
    own = _nth(lambda: KNOWN.get(rest_name) or [])
    return st.one_of(
        own,
        own,
        own,
        _nth(lambda: IDS),
        st.text(alphabet="abc-0123", min_size=1, max_size=6),
    )


def attribute_values(entity: Entity) -> st.SearchStrategy[Any]:
    names = sorted(entity.attrs)

    def value_for(name: str) -> st.SearchStrategy[Any]:
        attr = entity.attrs[name]
        plausible: list[st.SearchStrategy[Any]] = [st.none()]
        if attr.choices:
            plausible.append(st.sampled_from(attr.choices))
        if attr.type == "int":
            plausible.append(st.integers(-5, 70000))
        if attr.type == "bool":
            plausible.append(st.booleans())
        if attr.type == "list":
            plausible.append(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "MAC": st.sampled_from(["02:00:00:00:00:01", "zz", "02:00:00:00:00:02"]),
                            "VPortID": st.sampled_from(IDS or ["x"]) | st.text(max_size=5),
                        }
                    ),
                    max_size=2,
                )
            )
        plausible.append(
            st.sampled_from(
                [
                    "10.0.0.0",
                    "10.0.0.1",
                    "255.255.255.0",
                    "255.0.255.0",
                    "*",
                    "80",
                    "1-2",
                    "6",
                    "ANY",
                    "0x0800",
                    "POLICYGROUP",
                    "ZONE",
                    "02:00:00:00:00:09",
                    "",
                    "x" * 300,
                ]
            )
        )
        plausible.append(st.sampled_from(IDS or ["x"]))
        junk = st.one_of(
            st.text(max_size=8),
            st.integers(),
            st.floats(allow_nan=False),
            st.booleans(),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        )
        return st.one_of(*plausible, junk)

    return st.lists(st.sampled_from(names), unique=True, max_size=8).flatmap(
        lambda chosen: st.fixed_dictionaries({k: value_for(k) for k in chosen})
    )


def requests_strategy() -> st.SearchStrategy[tuple[str, str, Any, dict[str, str]]]:
    relations = sorted(REGISTRY.relations)
    entities = sorted(REGISTRY.entities)
    ident = _nth(lambda: IDS)
    headers = st.fixed_dictionaries(
        {},
        optional={
            # Any text a valid HTTP header can carry (printable ASCII, no edge whitespace).
            "X-Nuage-Filter": st.text(
                alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20
            ).map(str.strip)
            | st.sampled_from(["name == 'z'", "vnId > 1", "x IN y", "'a' IN name", "name IN ()"]),
            "X-Nuage-Page": st.sampled_from(["0", "1", "-1", "x"]),
            "X-Nuage-PageSize": st.sampled_from(["1", "0", "50", "100000"]),
            "X-Nuage-OrderBy": st.sampled_from(["name", "name DESC", "nope ASC", "name UP"]),
        },
    )

    def collection(rel: tuple[str, str]) -> st.SearchStrategy[tuple[str, str, Any, dict[str, str]]]:
        parent, resource = rel
        entity = REGISTRY.by_resource[resource]
        body = (
            attribute_values(entity)
            | st.lists(attribute_values(entity), max_size=3)
            | st.lists(ident, max_size=3)
            | st.sampled_from([None, 3, "x"])
        )
        if parent == "me":
            path = st.just(f"/{resource}")
        else:
            path = ident_for(parent).map(
                lambda i, p=parent, r=resource: f"/{REGISTRY.entity(p).resource}/{i}/{r}"
            )
        methods = st.sampled_from(["GET", "HEAD", "POST", "POST", "POST", "PUT"])
        return st.tuples(methods, path, body, headers)

    def single(rest_name: str) -> st.SearchStrategy[tuple[str, str, Any, dict[str, str]]]:
        entity = REGISTRY.entity(rest_name)
        return st.tuples(
            st.sampled_from(["GET", "PUT", "PUT", "PUT", "DELETE"]),
            ident_for(rest_name).map(lambda i: f"/{entity.resource}/{i}"),
            attribute_values(entity) | st.sampled_from([None, [], "x"]),
            st.fixed_dictionaries({}),
        )

    # Fixed choices only (see _nth): the objects acted on still come from what exists.
    return st.one_of(
        st.sampled_from(relations).flatmap(collection),
        st.sampled_from(relations).flatmap(collection),
        st.sampled_from(entities).flatmap(single),
    )


def footprint(served: ServedDirectory) -> tuple[int, ...]:
    with served.directory.store.read() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (objects, scopes, members, addresses, changes)
        )


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fuzz") / "d.db"
    with served_directory(f"sqlite:///{path}") as served:
        client = VsdClient(served.url)
        net = make_l3_subnet(client, "fuzz")
        ent, template, domain, zone, subnet = (
            net[k] for k in ("ent", "template", "domain", "zone", "subnet")
        )
        pg = client.create(f"domains/{domain['ID']}/policygroups", {"name": "pg"})
        vport = client.create(
            f"subnets/{subnet['ID']}/vports",
            {"name": "vp", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
        )
        acl = client.create(f"domains/{domain['ID']}/ingressacltemplates", {"name": "acl"})
        for kind, obj in (
            ("enterprise", ent),
            ("domaintemplate", template),
            ("domain", domain),
            ("zone", zone),
            ("subnet", subnet),
            ("policygroup", pg),
            ("vport", vport),
            ("ingressacltemplate", acl),
        ):
            IDS.append(obj["ID"])
            KNOWN.setdefault(kind, []).append(obj["ID"])
        yield served, client.api_key


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("OVERCAST_FUZZ_EXAMPLES", "500")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_no_5xx_and_failed_requests_change_nothing(fuzz_server, data) -> None:  # type: ignore[no-untyped-def]
    served, api_key = fuzz_server
    method, path, body, headers = data.draw(requests_strategy())
    import base64

    token = base64.b64encode(f"csproot:{api_key}".encode()).decode()
    before = footprint(served)
    response = requests.request(
        method,
        served.api + path,
        data=json.dumps(body),
        headers={
            "Authorization": f"XREST {token}",
            "X-Nuage-Organization": "csp",
            "Content-Type": "application/json",
            **headers,
        },
        params={"responseChoice": "1"} if method == "DELETE" and data.draw(st.booleans()) else None,
        timeout=30,
    )
    event(f"{method} -> {response.status_code}")
    assert response.status_code < 500, (method, path, body, response.text)
    if response.status_code >= 300:
        assert footprint(served) == before, (method, path, body, response.status_code)
        if method != "HEAD":
            errors = response.json()["errors"]
            assert errors and errors[0]["descriptions"][0]["description"]
    elif method == "POST" and response.status_code == 201:
        created = response.json()
        items = [r["data"] for r in created["response"]] if isinstance(created, dict) else created
        kind = REGISTRY.by_resource[path.rsplit("/", 1)[1]].rest_name
        for item in items:  # later examples act on what earlier ones made
            IDS.append(item["ID"])
            KNOWN.setdefault(kind, []).append(item["ID"])
    elif method == "DELETE" and response.status_code == 204:
        gone = path.rsplit("/", 1)[1]
        for known in KNOWN.values():
            if gone in known and len(known) > 1:
                known.remove(gone)
    elif response.status_code == 207:
        for item in response.json()["response"]:
            assert item["status"] < 500
