"""After every step of a random API scenario, every agent holds exactly a fresh compile."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from overcast.agent.client import AgentClientError
from overcast.client.vsd import VsdClient, VsdClientError
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ...support.control import HOSTS


class Scenario:
    """A tenant with two domains, changed at random through the REST API and the agents."""

    def __init__(self, client: VsdClient, cluster: Cluster, rng: random.Random) -> None:
        self.client, self.cluster, self.rng = client, cluster, rng
        ent = client.create("enterprises", {"name": f"ent-{uuid.uuid4().hex[:6]}"})
        template = client.create(f"enterprises/{ent['ID']}/domaintemplates", {"name": "t"})
        self.enterprise = ent
        self.domains: list[dict[str, Any]] = []
        self.subnets: list[dict[str, Any]] = []  # with "domain" index
        self.groups: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self.endpoints: list[dict[str, Any]] = []  # {vport, mac, domain, host}
        self.macro = client.create(
            f"enterprises/{ent['ID']}/enterprisenetworks",
            {"name": "ext", "address": "198.51.100.0", "netmask": "255.255.255.0"},
        )
        for d in range(2):
            domain = client.create(
                f"enterprises/{ent['ID']}/domains", {"name": f"d{d}", "templateID": template["ID"]}
            )
            zone = client.create(f"domains/{domain['ID']}/zones", {"name": "z"})
            self.domains.append({**domain, "zone": zone})
            for s in range(2):
                subnet = client.create(
                    f"zones/{zone['ID']}/subnets",
                    {"name": f"s{s}", "address": f"10.{s}.0.0", "netmask": "255.255.255.0"},  # overlapping
                )
                self.subnets.append({**subnet, "domain": d})
            for g in range(2):
                self.groups.append(
                    {**client.create(f"domains/{domain['ID']}/policygroups", {"name": f"g{g}"}), "domain": d}
                )
            for direction in ("ingress", "egress"):
                policy = client.create(
                    f"domains/{domain['ID']}/{direction}acltemplates",
                    {"name": direction, "active": True, "priority": 1, "defaultAllowIP": False},
                )
                self.policies.append({**policy, "domain": d, "direction": direction})

    def step(self) -> str:
        actions = [self.new_endpoint, self.attach, self.detach, self.regroup, self.new_entry, self.drop_entry,
                   self.toggle_policy, self.delete_endpoint]  # fmt: skip
        action = self.rng.choice(actions)
        return action()

    def new_endpoint(self) -> str:
        subnet = self.rng.choice(self.subnets)
        vport = self.client.create(
            f"subnets/{subnet['ID']}/vports",
            {"name": uuid.uuid4().hex[:8], "type": "CONTAINER", "addressSpoofing": "INHERITED"},
        )
        mac = "02:" + ":".join(f"{self.rng.randrange(256):02x}" for _ in range(5))
        self.client.create("containers", {"name": vport["name"], "UUID": str(uuid.uuid4()),
                                          "interfaces": [{"MAC": mac, "VPortID": vport["ID"]}]})  # fmt: skip
        self.endpoints.append({"vport": vport, "mac": mac, "domain": subnet["domain"], "host": None})
        return f"new endpoint in {subnet['name']}"

    def attach(self) -> str:
        free = [e for e in self.endpoints if e["host"] is None]
        if not free:
            return self.new_endpoint()
        endpoint, host = self.rng.choice(free), self.rng.choice(sorted(HOSTS))
        with self.cluster.client(host) as agent:
            agent.attach(endpoint["vport"]["ID"], endpoint["mac"])
        endpoint["host"] = host
        return f"attach on {host}"

    def detach(self) -> str:
        running = [e for e in self.endpoints if e["host"] is not None]
        if not running:
            return self.attach()
        endpoint = self.rng.choice(running)
        with self.cluster.client(endpoint["host"]) as agent:
            agent.detach(endpoint["vport"]["ID"])
        endpoint["host"] = None
        return "detach"

    def regroup(self) -> str:
        if not self.endpoints:
            return self.new_endpoint()
        endpoint = self.rng.choice(self.endpoints)
        choices = [g["ID"] for g in self.groups if g["domain"] == endpoint["domain"]]
        picked = self.rng.sample(choices, self.rng.randrange(len(choices) + 1))
        self.client.assign(f"vports/{endpoint['vport']['ID']}/policygroups", picked)
        return f"regroup to {len(picked)} groups"

    def new_entry(self) -> str:
        policy = self.rng.choice(self.policies)
        groups = [g for g in self.groups if g["domain"] == policy["domain"]]
        network = self.rng.choice(["ANY", "POLICYGROUP", "ENTERPRISE_NETWORK", "ENDPOINT_DOMAIN", "SUBNET"])
        network_id = {
            "POLICYGROUP": self.rng.choice(groups)["ID"],
            "ENTERPRISE_NETWORK": self.macro["ID"],
            "SUBNET": self.rng.choice([s for s in self.subnets if s["domain"] == policy["domain"]])["ID"],
        }.get(network)
        body = {
            "action": self.rng.choice(["FORWARD", "DROP"]),
            "etherType": "0x0800",
            "DSCP": "*",
            "locationType": "POLICYGROUP",
            "locationID": self.rng.choice(groups)["ID"],
            "networkType": network,
            "protocol": "6",
            "sourcePort": "*",
            "destinationPort": str(self.rng.choice([22, 80, 3306])),
            "priority": self.rng.randrange(1000),
            "stateful": True,
        }
        if network_id:
            body["networkID"] = network_id
        entry = self.client.create(
            f"{policy['direction']}acltemplates/{policy['ID']}/{policy['direction']}aclentrytemplates", body
        )
        self.entries.append({**entry, "direction": policy["direction"]})
        return f"new {policy['direction']} entry to {network}"

    def drop_entry(self) -> str:
        if not self.entries:
            return self.new_entry()
        entry = self.entries.pop(self.rng.randrange(len(self.entries)))
        self.client.delete(f"{entry['direction']}aclentrytemplates/{entry['ID']}")
        return "drop entry"

    def toggle_policy(self) -> str:
        policy = self.rng.choice(self.policies)
        policy["active"] = not policy.get("active", True)
        self.client.update(
            f"{policy['direction']}acltemplates/{policy['ID']}", {"active": policy["active"]}, confirm=True
        )
        return f"policy active={policy['active']}"

    def delete_endpoint(self) -> str:
        if not self.endpoints:
            return self.new_endpoint()
        endpoint = self.endpoints.pop(self.rng.randrange(len(self.endpoints)))
        vport = endpoint["vport"]["ID"]
        for container in self.client.list_all(f"vports/{vport}/containers"):
            self.client.delete(f"containers/{container['ID']}")
        self.client.delete(f"vports/{vport}")
        if endpoint["host"] is not None:  # the agent learns it is gone from the state it is sent
            self.cluster.wait_converged()
            assert (
                self.cluster.call(lambda: self.cluster.agents[endpoint["host"]].state.endpoint(vport)) is None
            )
        return "delete endpoint"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_step_matches_a_fresh_compile(
    sqlite_server: ServedDirectory, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    client = VsdClient(sqlite_server.url)
    client.login()
    with Cluster(sqlite_server.directory, tmp_path, HOSTS) as cluster:
        scenario = Scenario(client, cluster, rng)
        log = []
        for _ in range(40):
            try:
                log.append(scenario.step())
            except (VsdClientError, AgentClientError) as exc:  # refusals are fine; state must still match
                log.append(f"refused: {exc}")
            try:
                cluster.assert_matches_directory()
            except AssertionError as exc:
                raise AssertionError(f"after steps {log}: {exc}") from None
        assert any(s.startswith("attach") for s in log)
