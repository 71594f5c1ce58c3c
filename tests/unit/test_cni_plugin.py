"""overcast-cni against the calls real runtimes make (payloads captured from podman 4.3.1 and
containerd 1.6, shared/reference/container-runtimes.md §2.4, §4), with the agent faked at its
socket seam. No root needed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from overcast.cni import plugin

CONF = {
    "cniVersion": "1.0.0", "name": "acme-web", "type": "overcast-cni", "enterprise": "acme",
    "domain": "wordpress", "zone": "web", "subnet": "web", "policyGroups": ["web"],
    "agentSocket": "/nonexistent/agent.sock",
    "capabilities": {"portMappings": True, "ips": True, "mac": True, "aliases": True},
}  # fmt: skip
PODMAN_ADD_ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "09b868ecb53b8fe3d2eac271a983361fc9da3d1c711d7a60098eedb0beba8c9a",
    "CNI_NETNS": "/run/netns/netns-6dedeb13-9642-74e2-4d4e-6a0dd3d81f98",
    "CNI_IFNAME": "eth0",
    "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=cap1;MAC=02:42:0a:4e:00:3c;IP=10.78.0.60",
    "CNI_PATH": "/opt/cni/bin:/usr/lib/cni",
}
RUNTIME_CONFIG = {"aliases": {"acme-web": ["capalias", "09b868ecb53b"]},
                  "portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]}  # fmt: skip
CREATED = {"vport_id": "vp-1", "mac": "02:42:0a:4e:00:3c", "ip": "10.78.0.60", "prefix_length": 24,
           "gateway": "10.78.0.1"}  # fmt: skip


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def call(_self: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
        seen.append((path, body))
        if body.get("zone") == "nope":
            raise plugin.CniError(plugin.DIRECTORY_REFUSED, "no zone named 'nope' in domain 'wordpress'")
        return dict(CREATED) if path == "/runtime/add" else {"vport_id": None}

    monkeypatch.setattr(plugin.Agent, "call", call)
    return seen


def invoke(env: dict[str, str], conf: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    status, out = plugin.run(env, json.dumps(conf))
    return status, json.loads(out) if out else None


def test_version_is_answered_without_the_agent_as_libcni_validates_configs() -> None:
    env = {"CNI_COMMAND": "VERSION", "CNI_PATH": "dummy", "CNI_NETNS": "dummy", "CNI_IFNAME": "dummy",
           "CNI_CONTAINERID": "", "CNI_ARGS": ""}  # fmt: skip
    status, out = invoke(env, {"cniVersion": "1.0.0"})
    assert (
        status == 0
        and out is not None
        and "1.0.0" in out["supportedVersions"]
        and "0.4.0" in out["supportedVersions"]
    )


def test_podman_add_becomes_one_runtime_add_and_a_1_0_0_result(calls: list[Any]) -> None:
    status, out = invoke(PODMAN_ADD_ENV, {**CONF, "runtimeConfig": RUNTIME_CONFIG})
    assert status == 0 and out is not None
    path, body = calls[0]
    assert path == "/runtime/add"
    assert body == {
        "uuid": f"{PODMAN_ADD_ENV['CNI_CONTAINERID']}/eth0", "name": "cap1",
        "netns": PODMAN_ADD_ENV["CNI_NETNS"], "ifname": "eth0", "enterprise": "acme", "domain": "wordpress",
        "zone": "web", "subnet": "web",
        "policy_groups": ["web"], "mac": "02:42:0a:4e:00:3c", "ip": "10.78.0.60",
    }  # fmt: skip
    assert out == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": "02:42:0a:4e:00:3c", "sandbox": PODMAN_ADD_ENV["CNI_NETNS"]}],
        "ips": [{"address": "10.78.0.60/24", "interface": 0, "gateway": "10.78.0.1"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.78.0.1"}],
        "dns": {},
    }


def test_a_0_4_0_config_gets_a_0_4_0_result_and_cni_args_add_policy_groups(calls: list[Any]) -> None:
    env = {**PODMAN_ADD_ENV, "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=c2;OVERCAST_POLICY_GROUPS=db,web"}
    status, out = invoke(env, {**CONF, "cniVersion": "0.4.0"})
    assert status == 0 and out is not None
    assert out["cniVersion"] == "0.4.0" and out["ips"][0]["version"] == "4"
    assert calls[0][1]["policy_groups"] == ["web", "db"] and "mac" not in calls[0][1]


def test_a_second_interface_gets_no_default_route(calls: list[Any]) -> None:
    status, out = invoke({**PODMAN_ADD_ENV, "CNI_IFNAME": "eth1"}, CONF)
    assert status == 0 and out is not None and out["routes"] == [] and calls[0][1]["uuid"].endswith("/eth1")


def test_del_with_prev_result_and_containerd_shapes(calls: list[Any]) -> None:
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "02:42:0a:4e:00:3c"}],
            "ips": [{"interface": 0, "address": "10.78.0.60/24", "gateway": "10.78.0.1"}]}  # fmt: skip
    status, out = invoke({**PODMAN_ADD_ENV, "CNI_COMMAND": "DEL"}, {**CONF, "prevResult": prev})
    assert (status, out) == (0, None) and calls[-1] == (
        "/runtime/del",
        {"uuid": f"{PODMAN_ADD_ENV['CNI_CONTAINERID']}/eth0"},
    )
    # containerd: CNI_CONTAINERID=<namespace>-<id>, DEL with an empty CNI_NETNS.
    env = {"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "default-ctr1", "CNI_NETNS": "", "CNI_IFNAME": "eth0"}
    assert invoke(env, CONF) == (0, None)
    assert calls[-1] == ("/runtime/del", {"uuid": "default-ctr1/eth0"})


@pytest.mark.parametrize(
    ("env", "conf", "code"),
    [
        ({"CNI_COMMAND": "BOGUS"}, CONF, plugin.INVALID_ENVIRONMENT),
        ({**PODMAN_ADD_ENV, "CNI_NETNS": ""}, CONF, plugin.INVALID_ENVIRONMENT),
        (PODMAN_ADD_ENV, {**CONF, "cniVersion": "9.9.9"}, plugin.INCOMPATIBLE_VERSION),
        (PODMAN_ADD_ENV, {k: v for k, v in CONF.items() if k != "subnet"}, plugin.INVALID_CONFIG),
        (PODMAN_ADD_ENV, {**CONF, "policyGroups": "web"}, plugin.INVALID_CONFIG),
        ({**PODMAN_ADD_ENV, "CNI_ARGS": "garbage"}, CONF, plugin.INVALID_ENVIRONMENT),
        (PODMAN_ADD_ENV, {**CONF, "zone": "nope"}, plugin.DIRECTORY_REFUSED),
    ],
)
def test_bad_input_is_a_cni_error(
    env: dict[str, str], conf: dict[str, Any], code: int, calls: list[Any]
) -> None:
    status, out = invoke(env, conf)
    assert status == 1 and out is not None and out["code"] == code and out["msg"]
    assert set(out) <= {"cniVersion", "code", "msg", "details"}


def test_an_unreachable_agent_is_try_again_later() -> None:
    status, out = invoke(PODMAN_ADD_ENV, CONF)  # the real client, a socket that does not exist
    assert status == 1 and out is not None and out["code"] == plugin.TRY_AGAIN_LATER
    assert "/nonexistent/agent.sock" in out["msg"]


def test_not_json_is_a_decoding_failure() -> None:
    status, out = plugin.run(PODMAN_ADD_ENV, "{not json")
    assert status == 1 and json.loads(out)["code"] == plugin.DECODING_FAILURE
