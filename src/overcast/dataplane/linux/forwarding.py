"""Forwarding entries of a domain namespace: permanent neighbours on the bridges (ARP answered
locally) and static FDB entries (local ports, and remote MACs behind their VTEPs)."""

from __future__ import annotations

from .plan import DomainPlan
from .programmed import Namespace, Programmed
from .rtnl import NTF_MASTER, NTF_SELF, Batch


def program_forwarding(namespace: Namespace, plan: DomainPlan, programmed: Programmed) -> None:
    """Make the namespace's permanent neighbours and static FDB entries the plan's: removals
    one by one, additions as one batch of rtnetlink messages; the record follows."""
    ipr, links = namespace.ipr, programmed.links
    for (bridge, ip), mac in list(programmed.neighbours.items()):
        if plan.neighbours.get((bridge, ip)) != mac:
            ipr.neigh("del", ifindex=links[bridge], dst=ip, lladdr=mac)
            del programmed.neighbours[(bridge, ip)]
    for key, dst in list(programmed.fdb.items()):
        if key not in plan.fdb or plan.fdb[key] != dst:
            device, mac, kind = key
            if kind == "self":
                ipr.fdb("del", ifindex=links[device], lladdr=mac, dst=dst, flags=NTF_SELF)
            else:
                master = links.get(plan.master_of(device)) if device in plan.links() else None
                ipr.fdb("del", ifindex=links[device], lladdr=mac, master=master, flags=NTF_MASTER)
            del programmed.fdb[key]
    additions = Batch()
    for (bridge, ip), mac in plan.neighbours.items():
        if programmed.neighbours.get((bridge, ip)) != mac:
            additions.neighbour(links[bridge], ip, mac)
    for (device, mac, kind), dst in plan.fdb.items():
        if (device, mac, kind) in programmed.fdb:
            continue
        if kind == "self":
            additions.fdb_self(links[device], mac, dst or "")
        else:
            additions.fdb_master(links[device], mac)
    additions.send(namespace.rtnl)
    programmed.neighbours.update(plan.neighbours)
    programmed.fdb.update(plan.fdb)
