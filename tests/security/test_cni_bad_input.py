"""Whatever a runtime passes, overcast-cni answers CNI error JSON, never a traceback (issue 15,
finding 18)."""

from __future__ import annotations

import json

import pytest

from overcast.cni.plugin import run

CONFIG = {"cniVersion": "1.0.0", "name": "n", "type": "overcast-cni", "enterprise": "e", "domain": "d",
          "zone": "z", "subnet": "s", "agentSocket": "/nonexistent/agent.sock"}  # fmt: skip
ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth0", "CNI_PATH": "/bin"}


def check_with(previous: object) -> str:
    return json.dumps({**CONFIG, "prevResult": previous})


@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        ("ADD", "[" * 100_000 + "]" * 100_000),
        ("ADD", '{"a":' * 5000 + "1" + "}" * 5000),
        ("CHECK", check_with({"interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01"}],
                              "ips": [{"address": "not-an-address"}]})),  # fmt: skip
        ("CHECK", check_with({"interfaces": 5})),
        ("CHECK", check_with({"interfaces": [5, "x"]})),
        ("CHECK", check_with({"interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01"}], "ips": "x"})),
        ("ADD", json.dumps({**CONFIG, "policyGroups": 7})),
        ("ADD", json.dumps({**CONFIG, "enterprise": ["a"]})),
    ],
    ids=["deep array", "deep object", "bogus address", "interfaces 5", "interfaces of scalars", "ips text",
         "policy groups not a list", "enterprise not text"],
)
def test_bad_input_is_cni_error_json(command: str, stdin: str) -> None:
    status, output = run({**ENV, "CNI_COMMAND": command}, stdin)
    assert status == 1
    error = json.loads(output)
    assert isinstance(error["code"], int) and error["msg"] and "Traceback" not in output
