"""A directory state built in memory the way the API shapes objects (for the policy compiler)."""

from __future__ import annotations

import itertools
from typing import Any

from overcast.policy.compiler import PolicyInput, compile_hosts
from overcast.policy.oracle import Packet, verdict

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


class World:
    """A directory state built the way the API shapes objects (only what the compiler reads)."""

    def __init__(self) -> None:
        self.state = PolicyInput()
        self.hosts = {
            name: self.add("vrs", name=name, address=address)
            for name, address in (("h1", "192.0.2.1"), ("h2", "192.0.2.2"), ("h3", "192.0.2.3"))
        }
        self.domain = self.add("domain", parentID="ent-1", name="d")
        self.zone = self.add("zone", parentID=self.domain, parentType="domain")
        self.web_net = self.subnet("10.1.1.0")
        self.db_net = self.subnet("10.1.2.0")

    def add(self, kind: str, **attrs: Any) -> str:
        object_id = new_id(kind)
        self.state.add(kind, {"ID": object_id, **attrs})
        return object_id

    def subnet(self, address: str, zone: str | None = None) -> str:
        return self.add(
            "subnet",
            parentID=zone or self.zone,
            parentType="zone",
            address=address,
            netmask="255.255.255.0",
            gateway=address[:-1] + "1",
            vnId=next(_ids),
        )

    def endpoint(self, subnet: str, ip: str, host: str, *groups: str) -> str:
        vport = self.add("vport", parentID=subnet)
        container = self.add("container", VRSID=self.hosts[host])
        self.add(
            "containerinterface",
            parentID=container,
            VPortID=vport,
            MAC="02:00:00:" + ":".join(f"{b:02x}" for b in next(_ids).to_bytes(3, "big")),
            IPAddress=ip,
            attachedNetworkID=subnet,
            domainID=self.domain,
            zoneID=self.zone,
        )
        for group in groups:
            self.state.members[group] = self.state.members.get(group, frozenset()) | {vport}
        return vport

    def floating_ip(self, vport: str, address: str) -> str:
        """A floating IP allocated in the domain and assigned to ``vport``."""
        fip = self.add("floatingip", parentID=self.domain, address=address, assigned=True)
        self.state.objects["vport"][vport]["associatedFloatingIPID"] = fip
        return fip

    def group(self) -> str:
        return self.add("policygroup", parentID=self.domain)

    def policy(
        self,
        direction: str,
        *,
        priority: int = 100,
        bracket: str = "NONE",
        active: bool = True,
        allow_ip: bool = False,
    ) -> str:
        return self.add(
            f"{direction}acltemplate",
            parentID=self.domain,
            active=active,
            priority=priority,
            priorityType=bracket,
            defaultAllowIP=allow_ip,
            defaultAllowNonIP=False,
            policyState="LIVE",
        )

    def entry(
        self, policy: str, direction: str, priority: int, *, action: str = "FORWARD", **match: Any
    ) -> str:
        attrs = {
            "action": action,
            "etherType": "0x0800",
            "protocol": "ANY",
            "locationType": "ANY",
            "networkType": "ANY",
            "DSCP": "*",
            "stateful": True,
            **match,
        }
        return self.add(f"{direction}aclentrytemplate", parentID=policy, priority=priority, **attrs)

    def allow_all_egress(self) -> None:
        self.policy("egress", allow_ip=True)

    def allow_all_ingress(self) -> None:
        self.policy("ingress", allow_ip=True)

    def check(self, src: str, dst: str, **packet: Any) -> tuple[bool, str, str]:
        result = verdict(compile_hosts(self.state), Packet(src=src, dst=dst, **packet))
        return result.allowed, result.ingress.decided_by, result.egress.decided_by
