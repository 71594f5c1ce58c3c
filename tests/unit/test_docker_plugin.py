"""The Docker plugin against the request sequence dockerd 20.10 really sends
(shared/reference/container-runtimes.md §5.3), with the agent faked at its client seam."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from overcast.agent.client import AgentClientError
from overcast.docker.plugin import Driver, State, create_app

NETWORK, ENDPOINT = "e47e8c4d31fc", "e1dff894aabbccdd2"
MAC = "02:42:7b:13:08:89"


class FakeAgent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def reserve(self, **endpoint: Any) -> dict[str, Any]:
        self.calls.append(("reserve", endpoint))
        if endpoint["zone"] == "missing":
            raise AgentClientError(404, "no zone named 'missing' in domain 'wordpress'")
        return {
            "vport_id": "vp-1",
            "mac": endpoint.get("mac", MAC),
            "ip": "10.79.0.2",
            "prefix_length": 24,
            "gateway": "10.79.0.1",
        }

    def ensure_subnet(self, **subnet: Any) -> dict[str, Any]:
        self.calls.append(("ensure_subnet", subnet))
        return {"ok": True}

    def release(self, uuid: str) -> dict[str, Any]:
        self.calls.append(("release", uuid))
        return {"vport_id": "vp-1"}

    def attach(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("attach", (args, kwargs)))
        return {}

    def detach(self, *args: Any) -> dict[str, Any]:
        self.calls.append(("detach", args))
        return {}


def plugin(tmp_path: Path) -> tuple[TestClient, FakeAgent]:
    agent = FakeAgent()
    driver = Driver(agent, State(tmp_path / "state.json"), "/proc/1/ns/net")  # type: ignore[arg-type]
    return TestClient(create_app(driver)), agent


def post(client: TestClient, call: str, body: Any = None) -> dict[str, Any]:
    response = client.post(call, content=b"" if body is None else json.dumps(body))
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/vnd.docker"
    )
    return dict(response.json())


def create_network(client: TestClient, **options: str) -> dict[str, Any]:
    assert post(
        client,
        "/IpamDriver.RequestPool",
        {"AddressSpace": "overcast", "Pool": "10.79.0.0/24", "SubPool": "", "Options": {}, "V6": False},
    )["PoolID"]
    gateway = post(
        client,
        "/IpamDriver.RequestAddress",
        {
            "PoolID": "overcast-10.79.0.0/24",
            "Address": "",
            "Options": {"RequestAddressType": "com.docker.network.gateway"},
        },
    )
    assert gateway == {"Address": "10.79.0.1/24", "Data": {}}
    return post(
        client,
        "/NetworkDriver.CreateNetwork",
        {
            "NetworkID": NETWORK,
            "Options": {"com.docker.network.enable_ipv6": False, "com.docker.network.generic": options},
            "IPv4Data": [{"AddressSpace": "overcast", "Gateway": "10.79.0.1/24", "Pool": "10.79.0.0/24"}],
            "IPv6Data": [],
        },
    )


def test_the_captured_sequence(tmp_path: Path) -> None:
    client, agent = plugin(tmp_path)
    assert post(client, "/Plugin.Activate") == {"Implements": ["NetworkDriver", "IpamDriver"]}
    assert post(client, "/NetworkDriver.GetCapabilities")["Scope"] == "local"
    assert post(client, "/IpamDriver.GetCapabilities")["RequiresMACAddress"] is True
    names = {
        "enterprise": "acme",
        "domain": "wordpress",
        "zone": "web",
        "subnet": "web",
        "policy_groups": "web,front",
    }
    assert create_network(client, **names) == {}
    address = post(
        client,
        "/IpamDriver.RequestAddress",
        {
            "PoolID": "overcast-10.79.0.0/24",
            "Address": "",
            "Options": {"com.docker.network.endpoint.macaddress": MAC},
        },
    )
    assert address == {"Address": "10.79.0.2/24", "Data": {}}
    kind, reserved = agent.calls[0]
    assert kind == "reserve" and reserved["policy_groups"] == ["web", "front"] and reserved["mac"] == MAC
    assert (
        post(
            client,
            "/NetworkDriver.CreateEndpoint",
            {
                "NetworkID": NETWORK,
                "EndpointID": ENDPOINT,
                "Interface": {"Address": "10.79.0.2/24", "AddressIPv6": "", "MacAddress": MAC},
                "Options": {},
            },
        )
        == {}
    )
    joined = post(
        client,
        "/NetworkDriver.Join",
        {
            "NetworkID": NETWORK,
            "EndpointID": ENDPOINT,
            "SandboxKey": "/var/run/docker/netns/8b8bfbab2134",
            "Options": {},
        },
    )
    assert joined["InterfaceName"] == {"SrcName": "ovd" + ENDPOINT[:11], "DstPrefix": "eth"}
    assert joined["Gateway"] == "10.79.0.1"
    assert agent.calls[-1] == (
        "attach",
        (("vp-1", MAC, "/proc/1/ns/net", "ovd" + ENDPOINT[:11]), {"configure": False}),
    )
    assert post(
        client, "/NetworkDriver.EndpointOperInfo", {"NetworkID": NETWORK, "EndpointID": ENDPOINT}
    ) == {"Value": {}}
    # A restarted plugin carries on from its state file.
    client, agent = plugin(tmp_path)
    assert post(client, "/NetworkDriver.Leave", {"NetworkID": NETWORK, "EndpointID": ENDPOINT}) == {}
    assert agent.calls[-1] == ("detach", ("vp-1", MAC))
    assert post(client, "/NetworkDriver.DeleteEndpoint", {"NetworkID": NETWORK, "EndpointID": ENDPOINT}) == {}
    assert (
        post(
            client, "/IpamDriver.ReleaseAddress", {"PoolID": "overcast-10.79.0.0/24", "Address": "10.79.0.2"}
        )
        == {}
    )
    assert agent.calls[-1][0] == "release"
    assert (
        post(
            client, "/IpamDriver.ReleaseAddress", {"PoolID": "overcast-10.79.0.0/24", "Address": "10.79.0.1"}
        )
        == {}
    )
    assert post(client, "/IpamDriver.ReleasePool", {"PoolID": "overcast-10.79.0.0/24"}) == {}
    assert post(client, "/NetworkDriver.DeleteNetwork", {"NetworkID": NETWORK}) == {}


def test_create_true_ensures_the_subnet(tmp_path: Path) -> None:
    client, agent = plugin(tmp_path)
    names = {
        "enterprise": "acme",
        "domain": "wordpress",
        "zone": "cache",
        "subnet": "cache",
        "create": "true",
    }
    assert create_network(client, **names) == {}
    assert agent.calls == [
        (
            "ensure_subnet",
            {
                "enterprise": "acme",
                "domain": "wordpress",
                "zone": "cache",
                "subnet": "cache",
                "address": "10.79.0.0",
                "netmask": "255.255.255.0",
            },
        )
    ]


def test_errors_are_err_and_error(tmp_path: Path) -> None:
    client, _ = plugin(tmp_path)
    refused = create_network(client, enterprise="acme")
    assert "-o domain=NAME" in refused["Err"]
    assert create_network(client, enterprise="acme", domain="wordpress", zone="missing", subnet="web") == {}
    failed = post(
        client,
        "/IpamDriver.RequestAddress",
        {
            "PoolID": "overcast-10.79.0.0/24",
            "Address": "",
            "Options": {"com.docker.network.endpoint.macaddress": MAC},
        },
    )
    assert "no zone named 'missing'" in failed["Error"] and failed["Err"] == failed["Error"]
    assert "IPv6" in post(client, "/IpamDriver.RequestPool", {"Pool": "", "V6": True})["Err"]
    assert "not supported" in post(client, "/NetworkDriver.Bogus", {})["Err"]
    assert "bad request body" in client.post("/NetworkDriver.Join", content=b"[1").json()["Err"]
