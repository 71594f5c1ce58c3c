"""Compliance in the directory: policies of sentences on the WordPress application, violations
kept as a listable resource, an ENFORCE policy refusing writes that add a violation (409 naming
the sentence, an example and the entries) and accepting those that remove one; nothing is
written by a refused write; a text that does not parse is refused naming the line."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from overcast.client.vsd import VsdClient
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory

from ...support.appd import wordpress
from .test_wire import expect_error


@pytest.fixture
def client(directory_server: ServedDirectory) -> VsdClient:
    c = VsdClient(directory_server.url)
    c.login()
    return c


def endpoints(client: VsdClient, wp: dict[str, Any]) -> dict[str, str]:
    """A container in each of web, app and db (judged whether or not it runs yet)."""
    subnets = {s["name"]: s for s in client.list_all(f"domains/{wp['domain']['ID']}/subnets")}
    ips = {}
    for index, tier in enumerate(("web", "app", "db"), start=1):
        vport = client.create(
            f"subnets/{subnets[f'wordpress - {tier}']['ID']}/vports",
            {"name": f"{tier}1", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
        )
        container = client.create(
            "containers",
            {
                "name": f"{tier}1",
                "UUID": str(uuid.uuid4()),
                "interfaces": [{"MAC": f"02:00:00:00:01:{index:02x}", "VPortID": vport["ID"]}],
            },
        )
        ips[tier] = container["interfaces"][0]["IPAddress"]
    return ips


def violations(client: VsdClient, policy: dict[str, Any]) -> list[dict[str, Any]]:
    return client.list_all(f"compliancepolicies/{policy['ID']}/complianceviolations")


def test_enforce_refuses_what_adds_a_violation(client: VsdClient) -> None:
    wp = wordpress(client)
    ips = endpoints(client, wp)
    ent = wp["ent"]
    pci = client.create(
        f"enterprises/{ent['ID']}/compliancepolicies",
        {
            "name": "PCI",
            "mode": "ENFORCE",
            "text": "# the web tier never talks to the database itself\n"
            "no flow from tier:wordpress/web to tier:wordpress/db\n",
        },
    )
    assert client.get(f"compliancepolicies/{pci['ID']}")["violationCount"] == 0
    flows_before = client.list_all(f"appdapplications/{wp['app']['ID']}/appdflows")
    # A flow web → db in the design: refused, naming the sentence, the example and the entries.
    error = expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{wp['app']['ID']}/appdflows",
            {
                "name": "web-to-db",
                "originTierID": wp["tiers"]["web"]["ID"],
                "destinationTierID": wp["tiers"]["db"]["ID"],
                "applicationServiceIDs": [wp["services"]["mysql"]["ID"]],
            },
        ),
    )
    text = str(error)
    assert "Compliance policy 'PCI', line 2" in text and f"web1 ({ips['web']})" in text and "tcp/3306" in text
    assert "ingress entry 'wordpress - web-to-db - mysql'" in text and "egress entry" in text
    assert client.list_all(f"appdapplications/{wp['app']['ID']}/appdflows") == flows_before  # nothing written

    # Two writes, each harmless alone, cannot combine: the domain's own policy allows db to
    # accept web (harmless: web may not send), then web to send (refused).
    domain = wp["domain"]["ID"]
    subnets = {s["name"]: s["ID"] for s in client.list_all(f"domains/{domain}/subnets")}
    mine = {
        d: client.create(f"domains/{domain}/{d}acltemplates", {"name": f"ops {d}", "active": True})
        for d in ("ingress", "egress")
    }
    entry = {
        "action": "FORWARD",
        "protocol": "6",
        "destinationPort": "3306",
        "stateful": True,
        "locationType": "SUBNET",
        "networkType": "SUBNET",
    }
    client.create(
        f"egressacltemplates/{mine['egress']['ID']}/egressaclentrytemplates",
        {**entry, "locationID": subnets["wordpress - db"], "networkID": subnets["wordpress - web"]},
    )
    expect_error(
        409,
        lambda: client.create(
            f"ingressacltemplates/{mine['ingress']['ID']}/ingressaclentrytemplates",
            {**entry, "locationID": subnets["wordpress - web"], "networkID": subnets["wordpress - db"]},
        ),
    )
    assert violations(client, pci) == []


def test_violations_are_kept_and_removed_with_the_writes(client: VsdClient) -> None:
    wp = wordpress(client)
    endpoints(client, wp)
    ent = wp["ent"]
    # A policy over a network that already violates it is accepted and records what it finds.
    strict = client.create(
        f"enterprises/{ent['ID']}/compliancepolicies",
        {
            "name": "no app to db",
            "mode": "ENFORCE",
            "text": "no flow from tier:wordpress/app to tier:wordpress/db",
        },
    )
    (found,) = violations(client, strict)
    assert (found["reason"], found["protocol"], found["line"]) == ("allowed", "tcp/3306", 1)
    assert found["source"].startswith("app1 (") and found["destination"].startswith("db1 (")
    assert found["egressEntryID"] and "wordpress - app-to-db - mysql" in found["decidedBy"]
    monitor = client.create(
        f"enterprises/{ent['ID']}/compliancepolicies",
        {
            "name": "liveness",
            "mode": "MONITOR",
            "text": "tier:wordpress/web must reach tier:wordpress/app on tcp/8080\n"
            "tier:wordpress/web must reach tier:wordpress/db on tcp/3306\n"
            "no flow from pg:nobody to any",
        },
    )
    (missing,) = violations(client, monitor)
    assert (missing["reason"], missing["line"]) == ("not allowed", 2)
    assert client.get(f"compliancepolicies/{monitor['ID']}")["warnings"] == "line 3: pg:nobody names nothing"
    # A write that removes the violation passes (and so the kept violation goes); the monitor
    # policy records the new one it now sees.
    client.delete(f"appdflows/{wp['flows']['app-db']['ID']}")
    assert violations(client, strict) == []
    assert client.get(f"compliancepolicies/{strict['ID']}")["violationCount"] == 0
    # Now the app → db flow cannot come back.
    expect_error(
        409,
        lambda: client.create(
            f"appdapplications/{wp['app']['ID']}/appdflows",
            {
                "name": "app-to-db",
                "originTierID": wp["tiers"]["app"]["ID"],
                "destinationTierID": wp["tiers"]["db"]["ID"],
                "applicationServiceIDs": [wp["services"]["mysql"]["ID"]],
            },
        ),
    )
    # Changing the policy to MONITOR lets it through, and the violation is listed again.
    client.update(f"compliancepolicies/{strict['ID']}", {"mode": "MONITOR"})
    client.create(
        f"appdapplications/{wp['app']['ID']}/appdflows",
        {
            "name": "app-to-db",
            "originTierID": wp["tiers"]["app"]["ID"],
            "destinationTierID": wp["tiers"]["db"]["ID"],
            "applicationServiceIDs": [wp["services"]["mysql"]["ID"]],
        },
    )
    assert len(violations(client, strict)) == 1


def test_bad_policies_and_who_sees_what(client: VsdClient, directory_server: ServedDirectory) -> None:
    wp = wordpress(client)
    ent = wp["ent"]
    error = expect_error(
        409,
        lambda: client.create(
            f"enterprises/{ent['ID']}/compliancepolicies",
            {"name": "bad", "text": "no flow from pg:a to pg:b\nno flow from pg:a pg:b"},
        ),
        "text",
    )
    text = str(error)
    assert "line 2, column 19: expected" in text and "'to'" in text and "found 'pg:b'" in text
    expect_error(
        409,
        lambda: client.create(
            f"enterprises/{ent['ID']}/compliancepolicies",
            {"name": "bad", "text": "no flow from pg:a to pg:b", "mode": "STRICT"},
        ),
    )
    csp = client.create("compliancepolicies", {"name": "everyone", "text": "each enterprise is isolated"})
    assert csp["violationCount"] == 0 and csp["mode"] == "MONITOR"
    client.create(
        f"enterprises/{ent['ID']}/users",
        {"userName": "alice", "password": "pw-alice-1", "firstName": "A", "lastName": "L", "email": "a@x"},
    )
    alice = VsdClient(directory_server.url, "alice", "pw-alice-1", wp["ent"]["name"])
    alice.login()
    assert [p["name"] for p in alice.list_all("compliancepolicies")] == []
    expect_error(404, lambda: alice.get(f"compliancepolicies/{csp['ID']}"))


def test_policy_check_and_what_if_from_the_cli(
    directory_server: ServedDirectory, client: VsdClient, tmp_path: Path
) -> None:
    wp = wordpress(client)
    endpoints(client, wp)
    client.create(
        f"enterprises/{wp['ent']['ID']}/compliancepolicies",
        {"name": "PCI", "mode": "ENFORCE", "text": "no flow from tier:wordpress/web to tier:wordpress/db"},
    )
    client.create(
        f"enterprises/{wp['ent']['ID']}/compliancepolicies",
        {"name": "live", "text": "tier:wordpress/web must reach tier:wordpress/db on tcp/3306"},
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "overcast",
                "policy",
                "check",
                *args,
                "--url",
                directory_server.url,
                "--user",
                "csproot",
                "--password",
                "csproot",
                "--org",
                "csp",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )

    shown = run("--json")
    assert shown.returncode == 1  # "live" is violated
    report = {p["name"]: p for p in json.loads(shown.stdout)}
    assert report["PCI"]["violations"] == [] and report["live"]["violations"][0]["reason"] == "not allowed"
    assert run("PCI").returncode == 0
    # What-if: the flow web → db would add a PCI violation (refused) and remove the "live" one.
    change = tmp_path / "change.json"
    change.write_text(
        json.dumps(
            [
                {
                    "method": "POST",
                    "path": f"/appdapplications/{wp['app']['ID']}/appdflows",
                    "body": {
                        "name": "web-to-db",
                        "originTierID": wp["tiers"]["web"]["ID"],
                        "destinationTierID": wp["tiers"]["db"]["ID"],
                        "applicationServiceIDs": [wp["services"]["mysql"]["ID"]],
                    },
                }
            ]
        )
    )
    result = run("--what-if", str(change), "--json")
    assert result.returncode == 1, result.stderr
    answer = json.loads(result.stdout)
    by_name = {p["name"]: p for p in answer["policies"]}
    assert answer["refused"] and len(by_name["PCI"]["added"]) == 1 and len(by_name["live"]["removed"]) == 1
    assert (
        client.list_all(f"appdapplications/{wp['app']['ID']}/appdflows")[-1]["name"] != "web-to-db"
    )  # not committed
    table = run("--what-if", str(change))
    assert "would be refused" in table.stdout
    # A step the directory itself refuses is reported as such.
    change.write_text(json.dumps([{"method": "PUT", "path": "/subnets/nothing", "body": {"name": "x"}}]))
    refused = json.loads(run("--what-if", str(change), "--json").stdout)
    assert refused["step"] == 1 and refused["error"]["errors"]


def test_two_harmless_writes_cannot_combine(directory_server: ServedDirectory, client: VsdClient) -> None:
    """web1 joining "senders" (which may send to db on 3306) is harmless while db accepts
    nothing from it; web1 joining "accepted" (which db accepts) is harmless while it may not
    send. Both at once, from two threads, would let web reach db: one is refused."""
    import threading

    from overcast.directory.errors import VsdError
    from overcast.directory.service import SYSTEM

    net = make_l3_subnet(client, "acme")
    domain, subnet, ent = net["domain"]["ID"], net["subnet"]["ID"], net["ent"]["ID"]
    names = ("web", "db", "senders", "accepted")
    groups = {n: client.create(f"domains/{domain}/policygroups", {"name": n}) for n in names}
    vports = {}
    for index, name in enumerate(("web", "db"), start=1):
        vport = client.create(
            f"subnets/{subnet}/vports",
            {"name": f"{name}1", "type": "CONTAINER", "addressSpoofing": "INHERITED"},
        )
        interfaces = [{"MAC": f"02:00:00:00:02:{index:02x}", "VPortID": vport["ID"]}]
        client.create("containers", {"name": f"{name}1", "UUID": str(uuid.uuid4()), "interfaces": interfaces})
        client.assign(f"policygroups/{groups[name]['ID']}/vports", [vport["ID"]])
        vports[name] = vport["ID"]
    entry = {
        "action": "FORWARD",
        "protocol": "6",
        "destinationPort": "3306",
        "locationType": "POLICYGROUP",
        "networkType": "POLICYGROUP",
    }
    for direction, local, remote in (("ingress", "senders", "db"), ("egress", "db", "accepted")):
        template = client.create(
            f"domains/{domain}/{direction}acltemplates", {"name": direction, "active": True}
        )
        client.create(
            f"{direction}acltemplates/{template['ID']}/{direction}aclentrytemplates",
            {**entry, "locationID": groups[local]["ID"], "networkID": groups[remote]["ID"]},
        )
    client.create(
        f"enterprises/{ent}/compliancepolicies",
        {"name": "PCI", "mode": "ENFORCE", "text": "no flow from pg:web to pg:db"},
    )
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def join(group: str) -> None:
        start.wait()
        try:
            directory_server.directory.assign(
                SYSTEM, "policygroups", groups[group]["ID"], "vports", [vports["web"]]
            )
            outcomes[group] = "ok"
        except VsdError as exc:
            outcomes[group] = str(exc.status)

    threads = [threading.Thread(target=join, args=(g,)) for g in ("senders", "accepted")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["409", "ok"], outcomes
