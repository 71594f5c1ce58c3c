"""One tenant cannot make the directory slow for the others, nor learn of what it may not see
(issue 15, findings 5, 6 and 12): bulk arrays are bounded and a bad element is cheap; idle
push channels cost nothing per commit of another tenant; hosts' events stay the operator's."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from overcast.client.vsd import VsdClient
from overcast.directory import transaction
from overcast.directory.controller_interface import register_host
from overcast.directory.service import MAX_BULK_ELEMENTS, Directory
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory


def tenant_client(served: ServedDirectory, admin: VsdClient, name: str) -> tuple[VsdClient, dict[str, Any]]:
    made = make_l3_subnet(admin, name, address="10.2.0.0", netmask="255.255.0.0")
    user = {"userName": "admin", "password": "pw", "email": "a@b", "firstName": "a", "lastName": "b"}
    admin.create(f"enterprises/{made['ent']['ID']}/users", user)
    client = VsdClient(served.url, "admin", "pw", name)
    client.login()
    return client, made


def test_a_bulk_array_is_bounded(sqlite_server: ServedDirectory) -> None:
    admin = VsdClient(sqlite_server.url)
    net = make_l3_subnet(admin, "acme")
    path = f"subnets/{net['subnet']['ID']}/vports"
    vport = {"type": "CONTAINER", "addressSpoofing": "INHERITED"}
    body = [{"name": f"v{i}", **vport} for i in range(MAX_BULK_ELEMENTS + 1)]
    response = admin.request("POST", path, body)
    assert response.status_code == 413
    assert str(MAX_BULK_ELEMENTS) in response.json()["errors"][0]["descriptions"][0]["description"]
    assert admin.count(path) == 0


def test_one_bad_element_costs_a_chunk_not_a_savepoint_per_element(
    sqlite_server: ServedDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = VsdClient(sqlite_server.url)
    net = make_l3_subnet(admin, "acme")
    path = f"subnets/{net['subnet']['ID']}/vports"
    vport = {"type": "CONTAINER", "addressSpoofing": "INHERITED"}
    body: list[dict[str, Any]] = [{"name": f"v{i}", **vport} for i in range(MAX_BULK_ELEMENTS)]
    body[500]["type"] = "NOT-A-TYPE"
    savepoints = []
    real = transaction.Transaction.savepoint

    def counted(self: transaction.Transaction) -> Any:
        savepoints.append(1)
        return real(self)

    monkeypatch.setattr(transaction.Transaction, "savepoint", counted)
    answers = admin.create_many(path, body)
    assert [i for i, a in enumerate(answers) if a["status"] != 201] == [500]
    assert admin.count(path) == MAX_BULK_ELEMENTS - 1
    chunks = -(-MAX_BULK_ELEMENTS // 64)
    assert len(savepoints) <= chunks + 64, f"{len(savepoints)} savepoints for one bad element"


def poll(served: ServedDirectory, client: VsdClient, channel: str | None = None) -> dict[str, Any]:
    headers = client._auth(client.api_key or "")  # the session's own key, as bambou polls
    params = {"uuid": channel} if channel else None
    response = httpx.get(served.api + "/events", headers=headers, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_another_tenants_commits_cost_an_idle_channel_nothing(
    sqlite_server: ServedDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = VsdClient(sqlite_server.url)
    idle, _ = tenant_client(sqlite_server, admin, "idle")
    busy, busy_net = tenant_client(sqlite_server, admin, "busy")
    channel = poll(sqlite_server, idle)["uuid"]
    reads, writes = [], []
    real_poll, real_write = Directory.poll_events, Directory._write

    def counted_poll(self: Directory, principal: Any, *args: Any, **kwargs: Any) -> Any:
        if principal.enterprise_name == "idle":
            reads.append(1)
        return real_poll(self, principal, *args, **kwargs)

    def counted_write(self: Directory, principal: Any, work: Any) -> Any:
        if principal.enterprise_name == "idle":
            writes.append(1)
        return real_write(self, principal, work)

    monkeypatch.setattr(Directory, "poll_events", counted_poll)
    monkeypatch.setattr(Directory, "_write", counted_write)
    answered: list[dict[str, Any]] = []
    waiting = threading.Thread(target=lambda: answered.append(poll(sqlite_server, idle, channel)))
    waiting.start()
    time.sleep(0.3)  # the poll is waiting
    for i in range(30):
        busy.create(f"subnets/{busy_net['subnet']['ID']}/vports",
                    {"name": f"p{i}", "type": "CONTAINER", "addressSpoofing": "INHERITED"})  # fmt: skip
    waiting.join(timeout=30)
    assert answered and answered[0]["events"] == []
    # One read per second of the 2 s poll (the fallback for other processes' commits), not one
    # per commit of the other tenant; one write when the poll ends, none per commit.
    assert len(reads) <= 4, f"{len(reads)} reads for 30 commits of another tenant"
    assert len(writes) <= 1, f"{len(writes)} writes for 30 commits of another tenant"


def test_hosts_are_the_operators_events(sqlite_server: ServedDirectory) -> None:
    admin = VsdClient(sqlite_server.url)
    tenant, _ = tenant_client(sqlite_server, admin, "acme")
    tenant_channel = poll(sqlite_server, tenant)["uuid"]
    operator_channel = poll(sqlite_server, admin)["uuid"]
    register_host(sqlite_server.directory, "h9", "192.0.2.9", now_ms=1)
    assert tenant.list_all("vrss") == []
    assert poll(sqlite_server, tenant, tenant_channel)["events"] == []
    seen = poll(sqlite_server, admin, operator_channel)["events"]
    assert [e["entityType"] for e in seen] == ["vrs"]
