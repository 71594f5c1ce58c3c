"""Every bad input is a 4xx in VSD's error format, a 500 never carries internals, and a
connection survives any answer (issue 15, findings 13 and 15)."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from typing import Any

import pytest

from overcast.client.vsd import VsdClient
from overcast.directory.objects import time_ordered_uuid
from overcast.directory.service import Directory
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory


def connection(served: ServedDirectory) -> http.client.HTTPConnection:
    host, port = served.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def ask(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
        **headers: str) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
    token = base64.b64encode(b"csproot:csproot").decode()
    conn.request(method, "/nuage/api/v6" + path, body=body, headers={
        "Authorization": f"XREST {token}", "X-Nuage-Organization": "csp", "Content-Type": "application/json",
        **{k.replace("_", "-"): v for k, v in headers.items()}})  # fmt: skip
    response = conn.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else None, {k.lower(): v for k, v in response.getheaders()}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"X_Nuage_Page": str(2**63)}, None),
        ({"X_Nuage_Page": "99999999999"}, None),
        ({"X_Nuage_Filter": " OR ".join(f'name == "n{i}"' for i in range(1000))}, None),
        ({"X_Nuage_Filter": "name == 'x' AND " * 300 + "name == 'y'"}, None),
        ({}, b"[" * 100_000 + b"]" * 100_000),
        ({}, b'{"name": "\\udc00"}'),
    ],
    ids=["page 2^63", "page far past", "1,000-term OR", "long filter", "deep JSON", "lone surrogate"],
)
def test_bad_input_is_a_4xx_in_vsd_form(sqlite_server: ServedDirectory, headers: dict[str, str],
                                        body: bytes | None) -> None:  # fmt: skip
    conn = connection(sqlite_server)
    method = "POST" if body is not None else "GET"
    status, answer, _ = ask(conn, method, "/enterprises", body, **headers)
    assert 400 <= status < 500, (status, answer)
    assert answer["errors"][0]["descriptions"][0]["description"]
    # The same connection answers the next request.
    status, _, _ = ask(conn, "GET", "/enterprises")
    assert status == 200


def test_a_500_says_nothing_of_internals_and_keeps_the_connection(
    sqlite_server: ServedDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("SELECT password_hash FROM credentials WHERE user_name = 'csproot'")

    conn = connection(sqlite_server)
    assert ask(conn, "GET", "/enterprises")[0] == 200
    socket_before = conn.sock
    monkeypatch.setattr(Directory, "listing", broken)
    status, answer, headers = ask(conn, "GET", "/enterprises")
    assert status == 500 and answer["internalErrorCode"] == 2500
    text = json.dumps(answer)
    assert "SELECT" not in text and "password" not in text and "RuntimeError" not in text
    assert "reference" in text
    assert headers.get("connection", "").lower() != "close"
    monkeypatch.undo()
    assert ask(conn, "GET", "/enterprises")[0] == 200
    assert conn.sock is socket_before, "the server closed the connection after the 500"


def test_a_foreign_id_is_missing_whatever_it_names(sqlite_server: ServedDirectory) -> None:
    """An object of another tenant answers exactly like an ID that was never issued, whichever
    attribute or path names it (the texts once said "belongs to another enterprise", "is not in
    this domain", or accepted it)."""
    admin = VsdClient(sqlite_server.url)
    acme, other = make_l3_subnet(admin, "acme"), make_l3_subnet(admin, "globex")
    user = {"userName": "u", "password": "p", "email": "u@a", "firstName": "u", "lastName": "a"}
    admin.create(f"enterprises/{acme['ent']['ID']}/users", user)
    tenant = VsdClient(sqlite_server.url, "u", "p", "acme")
    tenant.login()
    vport = {"name": "v", "type": "CONTAINER", "addressSpoofing": "INHERITED"}
    macro = {"name": "m", "address": "192.0.2.0", "netmask": "255.255.255.0"}
    group = {"name": "g", "type": "SOFTWARE"}
    theirs = {
        "group": admin.create(f"domains/{other['domain']['ID']}/policygroups", group),
        "macro": admin.create(f"enterprises/{other['ent']['ID']}/enterprisenetworks", macro),
        "vport": admin.create(f"subnets/{other['subnet']['ID']}/vports", vport),
    }
    acl = tenant.create(f"domains/{acme['domain']['ID']}/ingressacltemplates", {"name": "a"})
    entries = f"ingressacltemplates/{acl['ID']}/ingressaclentrytemplates"
    entry = {"action": "FORWARD", "etherType": "0x0800", "DSCP": "*", "protocol": "6", "priority": 1}
    domains = f"enterprises/{acme['ent']['ID']}/domains"

    def interface(target: Any) -> dict[str, Any]:
        card = {"MAC": "02:00:00:00:00:09", "VPortID": target("vport")}
        return {"name": "c", "UUID": str(uuid.uuid4()), "interfaces": [card]}

    cases = {
        "a vport under a subnet": lambda target: ("POST", f"subnets/{target('subnet')}/vports", vport),
        "a domain's template": lambda t: ("POST", domains, {"name": "x", "templateID": t("template")}),
        "an ACL location": lambda target: (
            "POST", entries,
            {**entry, "locationType": "POLICYGROUP", "locationID": target("group"), "networkType": "ANY"},
        ),
        "an ACL network macro": lambda target: (
            "POST", entries,
            {**entry, "locationType": "ANY", "networkType": "ENTERPRISE_NETWORK",
             "networkID": target("macro")},
        ),
        "an interface's vport": lambda target: ("POST", "containers", interface(target)),
    }  # fmt: skip
    for case, request in cases.items():
        answers = []
        for named in ({**{k: v["ID"] for k, v in other.items()}, **{k: v["ID"] for k, v in theirs.items()}},
                      None):  # fmt: skip
            never = str(uuid.uuid4())
            target_id = (lambda what, n=named: n[what]) if named else (lambda _what, n=never: n)  # noqa: E731
            method, path, body = request(target_id)
            response = tenant.request(method, path, body)
            answer = response.json()
            text = json.dumps(answer)
            for value in (*(named or {}).values(), never):
                text = text.replace(value, "ID")
            answers.append((response.status_code, text))
        assert answers[0] == answers[1], f"{case}: foreign {answers[0]} vs never issued {answers[1]}"
        assert answers[0][0] in (404, 409), case


def test_object_ids_are_unpredictable() -> None:
    """Time-ordered, but their 74 random bits come from the OS generator: consecutive IDs of
    one millisecond share nothing after the timestamp."""
    ids = [time_ordered_uuid() for _ in range(2000)]
    assert len(set(ids)) == 2000
    tails = {uuid.UUID(i).int & ((1 << 62) - 1) for i in ids}
    assert len(tails) == 2000
