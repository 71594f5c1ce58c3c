"""Atomic policy changes (VSD's draft mode) through jobs: BEGIN copies the live policies into
drafts, edits go to the drafts while hosts keep the live policy, APPLY publishes everything in
one transaction (unchanged entries keep their IDs) and is judged by compliance as a whole,
DISCARD drops the drafts; live policies refuse edits while a change is open."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from vspk import v6 as vsdk

from overcast.client.vsd import VsdClient
from overcast.controller.feed import load_policy_input
from overcast.policy.compiler import compile_domains
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory

from ...support.vspk_topology import session_for
from .test_wire import expect_error


@pytest.fixture
def client(directory_server: ServedDirectory) -> VsdClient:
    c = VsdClient(directory_server.url)
    c.login()
    return c


def live_ports(directory_server: ServedDirectory, domain_id: str) -> list[tuple[str, Any]]:
    """What hosts are told: each direction's rules' destination ports, in order."""
    entries = compile_domains(load_policy_input(directory_server.directory))[domain_id]
    return [
        (key[2], tuple(r.destination_ports for r in value.rules))
        for key, value in sorted(entries.items())
        if key[0] == "rules"
    ]


def job(client: VsdClient, domain_id: str, command: str) -> dict[str, Any]:
    return client.create(f"domains/{domain_id}/jobs", {"command": command})


def test_begin_edit_apply_discard(directory_server: ServedDirectory, client: VsdClient) -> None:
    net = make_l3_subnet(client, "acme")
    domain = net["domain"]["ID"]
    web = client.create(f"domains/{domain}/policygroups", {"name": "web"})
    db = client.create(f"domains/{domain}/policygroups", {"name": "db"})
    templates = {
        d: client.create(f"domains/{domain}/{d}acltemplates", {"name": d, "active": True})
        for d in ("ingress", "egress")
    }
    rule = {
        "action": "FORWARD",
        "protocol": "6",
        "stateful": True,
        "locationType": "POLICYGROUP",
        "networkType": "POLICYGROUP",
    }
    egress_path = f"egressacltemplates/{templates['egress']['ID']}/egressaclentrytemplates"
    kept = client.create(
        egress_path,
        {**rule, "priority": 10, "destinationPort": "80", "locationID": db["ID"], "networkID": web["ID"]},
    )
    moved = client.create(
        egress_path,
        {**rule, "priority": 20, "destinationPort": "3306", "locationID": db["ID"], "networkID": web["ID"]},
    )
    before = live_ports(directory_server, domain)

    begun = job(client, domain, "BEGIN_POLICY_CHANGES")
    assert begun["status"] == "SUCCESS" and begun["result"] == {"draftTemplates": 2, "draftEntries": 2}
    assert client.get(f"domains/{domain}")["policyChangeStatus"] == "STARTED"
    drafts = {
        t["name"]: t
        for t in client.list_all(f"domains/{domain}/egressacltemplates")
        if t["policyState"] == "DRAFT"
    }
    draft = drafts["egress (draft)"]
    assert draft["associatedLiveEntityID"] == templates["egress"]["ID"]
    # Live policies refuse edits while the change is open.
    expect_error(
        409, lambda: client.update(f"egressaclentrytemplates/{moved['ID']}", {"destinationPort": "5432"})
    )
    expect_error(
        409,
        lambda: client.create(
            egress_path,
            {**rule, "priority": 30, "destinationPort": "22", "locationID": db["ID"], "networkID": web["ID"]},
        ),
    )
    expect_error(409, lambda: job(client, domain, "BEGIN_POLICY_CHANGES"))
    # Edits go to the draft; a template created now is a draft too; hosts see none of it.
    copies = {
        e["associatedLiveEntityID"]: e
        for e in client.list_all(f"egressacltemplates/{draft['ID']}/egressaclentrytemplates")
    }
    assert all(e["policyState"] == "DRAFT" for e in copies.values())
    client.update(f"egressaclentrytemplates/{copies[moved['ID']]['ID']}", {"destinationPort": "5432"})
    client.create(
        f"egressacltemplates/{draft['ID']}/egressaclentrytemplates",
        {**rule, "priority": 30, "destinationPort": "8080", "locationID": db["ID"], "networkID": web["ID"]},
    )
    extra = client.create(
        f"domains/{domain}/ingressacltemplates", {"name": "extra", "active": True, "defaultAllowIP": True}
    )
    assert extra["policyState"] == "DRAFT"
    assert live_ports(directory_server, domain) == before

    applied = job(client, domain, "APPLY_POLICY_CHANGES")
    assert applied["result"] == {"created": 1, "updated": 1, "deleted": 0, "kept": 1}
    live = {e["destinationPort"]: e for e in client.list_all(egress_path)}
    assert sorted(live) == ["5432", "80", "8080"]
    assert live["80"]["ID"] == kept["ID"] and live["5432"]["ID"] == moved["ID"]  # kept and updated in place
    assert client.get(f"ingressacltemplates/{extra['ID']}")["policyState"] == "LIVE"
    assert not [
        t for t in client.list_all(f"domains/{domain}/egressacltemplates") if t["policyState"] == "DRAFT"
    ]
    assert dict(live_ports(directory_server, domain))["egress"] == ((80, 80), (5432, 5432), (8080, 8080))
    assert client.get(f"domains/{domain}")["policyChangeStatus"] == "APPLIED"

    # Discard: the drafts go, the live policy is untouched.
    job(client, domain, "BEGIN_POLICY_CHANGES")
    copies = client.list_all(f"domains/{domain}/egressaclentrytemplates")
    draft_entry = next(e for e in copies if e["policyState"] == "DRAFT")
    client.delete(f"egressaclentrytemplates/{draft_entry['ID']}")
    job(client, domain, "DISCARD_POLICY_CHANGES")
    assert sorted(e["destinationPort"] for e in client.list_all(egress_path)) == ["5432", "80", "8080"]
    assert client.get(f"domains/{domain}")["policyChangeStatus"] == "DISCARDED"
    # Applying or discarding a change nobody began; a job this directory does not run.
    error = expect_error(409, lambda: job(client, domain, "APPLY_POLICY_CHANGES"))
    assert "BEGIN_POLICY_CHANGES first" in str(error)
    expect_error(409, lambda: job(client, domain, "DISCARD_POLICY_CHANGES"))
    expect_error(409, lambda: job(client, domain, "REBOOT"), "command")


def test_compliance_judges_the_draft_as_a_whole(client: VsdClient) -> None:
    net = make_l3_subnet(client, "acme")
    domain, ent = net["domain"]["ID"], net["ent"]["ID"]
    web = client.create(f"domains/{domain}/policygroups", {"name": "web"})
    db = client.create(f"domains/{domain}/policygroups", {"name": "db"})
    subnet = net["subnet"]["ID"]
    for index, (name, group) in enumerate((("web1", web), ("db1", db)), start=1):
        vport = client.create(
            f"subnets/{subnet}/vports", {"name": name, "type": "CONTAINER", "addressSpoofing": "INHERITED"}
        )
        interfaces = [{"MAC": f"02:00:00:00:00:{index:02x}", "VPortID": vport["ID"]}]
        client.create("containers", {"name": name, "UUID": str(uuid.uuid4()), "interfaces": interfaces})
        client.assign(f"policygroups/{group['ID']}/vports", [vport["ID"]])
    client.create(
        f"domains/{domain}/ingressacltemplates", {"name": "in", "active": True, "defaultAllowIP": True}
    )
    client.create(f"domains/{domain}/egressacltemplates", {"name": "out", "active": True})
    client.create(
        f"enterprises/{ent}/compliancepolicies",
        {"name": "PCI", "mode": "ENFORCE", "text": "no flow from pg:web to pg:db on tcp/3306"},
    )
    job(client, domain, "BEGIN_POLICY_CHANGES")
    (draft,) = [
        t for t in client.list_all(f"domains/{domain}/egressacltemplates") if t["policyState"] == "DRAFT"
    ]
    client.create(
        f"egressacltemplates/{draft['ID']}/egressaclentrytemplates",  # drafts are not judged yet
        {
            "action": "FORWARD",
            "protocol": "6",
            "destinationPort": "3306",
            "locationType": "POLICYGROUP",
            "locationID": db["ID"],
            "networkType": "POLICYGROUP",
            "networkID": web["ID"],
        },
    )
    error = expect_error(409, lambda: job(client, domain, "APPLY_POLICY_CHANGES"))
    assert "Compliance policy 'PCI'" in str(error)
    assert client.get(f"domains/{domain}")["policyChangeStatus"] == "STARTED"  # nothing applied
    job(client, domain, "DISCARD_POLICY_CHANGES")


def test_jobs_from_vspk(directory_server: ServedDirectory) -> None:
    me = session_for(directory_server).user
    ent = vsdk.NUEnterprise(name="acme")
    me.create_child(ent)
    template = vsdk.NUDomainTemplate(name="t")
    ent.create_child(template)
    domain = vsdk.NUDomain(name="d", template_id=template.id)
    ent.create_child(domain)
    domain.create_child(vsdk.NUIngressACLTemplate(name="in", active=True))
    begin = vsdk.NUJob(command="BEGIN_POLICY_CHANGES")
    domain.create_child(begin)
    assert begin.status == "SUCCESS"
    domain.fetch()
    assert domain.policy_change_status == "STARTED"
    assert sorted(t.policy_state for t in domain.ingress_acl_templates.get()) == ["DRAFT", "LIVE"]
    domain.create_child(vsdk.NUJob(command="APPLY_POLICY_CHANGES"))
    assert [t.policy_state for t in domain.ingress_acl_templates.get()] == ["LIVE"]
