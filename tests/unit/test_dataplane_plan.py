"""The Linux dataplane's plan (pure): what a domain namespace must hold."""

from __future__ import annotations

from overcast.dataplane.base import Attachment
from overcast.dataplane.linux.plan import MAX_BRIDGE_PORTS, plan_domain, veth_name
from overcast.policy.compiler import Defaults, DomainView, Endpoint, Subnet

SUBNET = Subnet("s1", "z1", "10.8.0.0/16", "10.8.0.1", "02:ac:00:00:00:01", 5000)


def view(local: int, remote: int = 0) -> DomainView:
    def endpoint(i: int, host: str) -> Endpoint:
        mac, ip = f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", f"10.8.{i // 256}.{i % 256 + 2}"
        return Endpoint(f"vport-{i}", mac, ip, "s1", "z1", host, None if host == "h1" else "192.0.2.2")

    return DomainView(
        "d1", "e1", (SUBNET,),
        tuple(endpoint(i, "h1") for i in range(local)),
        tuple(endpoint(local + i, "h2") for i in range(remote)),
        (), (), (), Defaults(False, False), Defaults(False, False),
    )  # fmt: skip


def attachments(v: DomainView) -> dict[str, Attachment]:
    return {e.vport_id: Attachment(e.vport_id, e.mac, f"ns-{e.vport_id}") for e in v.local}


def test_names_ports_neighbours_and_forwarding_entries() -> None:
    v = view(local=2, remote=1)
    plan = plan_domain(v, attachments(v), present=(), host_id="h1")
    assert plan.bridges["ob5000"].address == ("10.8.0.1", 16) and plan.vxlans["ox5000"] == (5000, "ob5000")
    assert set(plan.ports) == {veth_name("vport-0"), veth_name("vport-1")}
    assert len(plan.neighbours) == 3  # every endpoint of the domain, local and remote
    remote = v.remote[0]
    assert plan.fdb[("ox5000", remote.mac, "self")] == "192.0.2.2"
    assert plan.fdb[(veth_name("vport-0"), v.local[0].mac, "master")] is None
    assert not plan.refused


def test_an_endpoint_without_an_attachment_is_adopted_only_if_its_veth_is_there() -> None:
    v = view(local=2)
    plan = plan_domain(v, {}, present={veth_name("vport-1")}, host_id="h1")
    assert set(plan.ports) == {veth_name("vport-1")}


def test_a_full_bridge_refuses_new_ports_and_keeps_the_running_ones() -> None:
    v = view(local=MAX_BRIDGE_PORTS + 40)
    running = {veth_name(e.vport_id) for e in v.local[-10:]}  # plumbed earlier: they stay
    plan = plan_domain(v, attachments(v), present=running, host_id="h1")
    assert len(plan.ports) == MAX_BRIDGE_PORTS - 1  # one port is the VXLAN device
    assert running <= set(plan.ports)
    assert len(plan.refused) == 41 and all("1023 ports" in r for r in plan.refused.values())
