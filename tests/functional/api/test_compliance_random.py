"""Compliance kept with the writes equals compliance computed afresh: after every write of a
random sequence (entries added and removed, memberships changed, defaults toggled, endpoints
added and removed), each policy's recorded violations are exactly those a full evaluation of
the directory finds."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from overcast.compliance.evaluate import build_world, evaluate
from overcast.compliance.language import parse_policy
from overcast.directory.compliance import policy_input
from overcast.directory.errors import VsdError
from overcast.directory.service import SYSTEM, Directory
from overcast.testing.directory import ServedDirectory

TEXT = """\
no flow from pg:g0 to pg:g1 on tcp/20-30
nothing outside pg:g2 may reach pg:g2 except pg:g0 on tcp/25
pg:g0 must reach pg:g2 on tcp/25
no flow from any to pg:g1 on udp/53
"""


def recorded(directory: Directory, policy_id: str) -> set[str]:
    return {
        v["key"]
        for v in directory.listing(
            SYSTEM, "compliancepolicies", policy_id, "complianceviolations", page_size=500
        ).items
    }


def fresh(directory: Directory, enterprise_id: str) -> set[str]:
    def work(ops: Any) -> set[str]:
        world = build_world(policy_input(ops, [enterprise_id]))
        return {v.key for v in evaluate(world, parse_policy(TEXT))}

    with directory._read(SYSTEM) as ops:
        return work(ops)


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_equals_fresh(sqlite_server: ServedDirectory, seed: int) -> None:
    directory, rnd = sqlite_server.directory, random.Random(seed)

    def create(parent: str, parent_id: str | None, resource: str, **body: Any) -> dict[str, Any]:
        return directory.create(SYSTEM, parent, parent_id, resource, body)

    ent = create("me", None, "enterprises", name=f"acme{seed}")
    template = create("enterprises", ent["ID"], "domaintemplates", name="t")
    domain = create("enterprises", ent["ID"], "domains", name="d", templateID=template["ID"])
    zone = create("domains", domain["ID"], "zones", name="z")
    subnet = create("zones", zone["ID"], "subnets", name="s", address="10.0.0.0", netmask="255.255.255.0")
    groups = [create("domains", domain["ID"], "policygroups", name=f"g{i}")["ID"] for i in range(3)]
    templates = {
        d: create("domains", domain["ID"], f"{d}acltemplates", name=d, active=True)
        for d in ("ingress", "egress")
    }
    policy = create("enterprises", ent["ID"], "compliancepolicies", name="p", text=TEXT)
    vports: list[str] = []
    entries: list[tuple[str, str]] = []
    members: dict[str, set[str]] = {g: set() for g in groups}

    def add_endpoint() -> None:
        vport = create(
            "subnets",
            subnet["ID"],
            "vports",
            name=uuid.uuid4().hex[:8],
            type="CONTAINER",
            addressSpoofing="INHERITED",
        )
        mac = "02:" + ":".join(f"{b:02x}" for b in rnd.randbytes(5))
        create(
            "me",
            None,
            "containers",
            name=vport["name"],
            UUID=str(uuid.uuid4()),
            interfaces=[{"MAC": mac, "VPortID": vport["ID"]}],
        )
        vports.append(vport["ID"])

    def add_entry() -> None:
        direction = rnd.choice(["ingress", "egress"])
        low = rnd.randint(15, 60)
        entry = create(
            f"{direction}acltemplates",
            templates[direction]["ID"],
            f"{direction}aclentrytemplates",
            action=rnd.choice(["FORWARD", "FORWARD", "DROP"]),
            protocol=rnd.choice(["6", "17"]),
            destinationPort=f"{low}-{low + rnd.randint(0, 15)}",
            stateful=True,
            locationType="POLICYGROUP",
            locationID=rnd.choice(groups),
            networkType=rnd.choice(["ANY", "POLICYGROUP"]),
            networkID=rnd.choice(groups),
        )
        entries.append((f"{direction}aclentrytemplates", entry["ID"]))

    def remove_entry() -> None:
        if entries:
            resource, entry_id = entries.pop(rnd.randrange(len(entries)))
            directory.delete(SYSTEM, resource, entry_id, confirmed=True)

    def regroup() -> None:
        if vports:
            group = rnd.choice(groups)
            members[group] = set(rnd.sample(vports, rnd.randint(0, len(vports))))
            directory.assign(SYSTEM, "policygroups", group, "vports", sorted(members[group]))

    def toggle_default() -> None:
        direction = rnd.choice(["ingress", "egress"])
        current = directory.get(SYSTEM, f"{direction}acltemplates", templates[direction]["ID"])
        directory.update(
            SYSTEM,
            f"{direction}acltemplates",
            current["ID"],
            {"defaultAllowIP": not current["defaultAllowIP"]},
            confirmed=True,
        )

    def remove_endpoint() -> None:
        if vports:
            vport = vports.pop(rnd.randrange(len(vports)))
            for group in members.values():
                group.discard(vport)
            directory.delete(SYSTEM, "vports", vport, confirmed=True)

    for _ in range(3):
        add_endpoint()
    for group in groups:  # every group has members from the start: sentences have something to judge
        members[group] = set(vports)
        directory.assign(SYSTEM, "policygroups", group, "vports", sorted(vports))
    steps = [
        add_endpoint,
        add_entry,
        add_entry,
        remove_entry,
        regroup,
        regroup,
        toggle_default,
        remove_endpoint,
    ]
    violated = 0
    for _ in range(25):
        step = rnd.choice(steps)
        try:
            step()
        except VsdError as exc:  # e.g. an entry priority already taken: nothing was written
            assert exc.status in (409,), exc
        kept = recorded(directory, policy["ID"])
        assert kept == fresh(directory, ent["ID"]), step.__name__
        violated += bool(kept)
    assert violated  # the sequence did make (and unmake) violations
