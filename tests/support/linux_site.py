"""A behaviour scenario deployed on a lab's namespaces with Linux dataplanes (system tier)."""

from __future__ import annotations

from overcast.dataplane.base import Attachment
from overcast.dataplane.change import Change
from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab
from overcast.policy.compiler import compile_host_entries
from overcast.protocol.codec import encode_entry

from .behaviour import Flow, Scenario


class Site:
    """A behaviour scenario deployed on a lab: one LinuxDataplane per host, a namespace per
    endpoint."""

    def __init__(self, lab: Lab, scenario: Scenario) -> None:
        self.lab, self.scenario, self.world = lab, scenario, scenario.world
        world = scenario.world
        self.dataplanes: dict[str, LinuxDataplane] = {}
        self.containers: dict[str, str] = {}  # vport ID -> container netns
        self.ips: dict[str, str] = {}  # vport ID -> IP
        self.listening: set[tuple[str, str, int]] = set()
        self.host_of: dict[str, str] = {}  # the scenario's host name -> the lab's
        for index, (short, vrs_id) in enumerate(sorted(world.hosts.items()), start=1):
            host_ns = lab.host(short, f"10.99.0.{index}")
            vrs = world.state.objects["vrs"][vrs_id]
            vrs.update(name=f"{lab.tag}{short}", address=f"10.99.0.{index}")
            self.host_of[short] = vrs["name"]
            self.dataplanes[vrs["name"]] = LinuxDataplane(vrs["name"], vrs["address"], host_netns=host_ns)
        for subnet in world.state.objects["subnet"].values():
            subnet["gatewayMACAddress"] = f"02:ac:00:00:{subnet['vnId'] % 256:02x}:01"

    def attach_all(self) -> None:
        for interface in self.world.state.objects["containerinterface"].values():
            container = self.world.state.objects["container"][interface["parentID"]]
            host = self.world.state.objects["vrs"][container["VRSID"]]["name"]
            vport = interface["VPortID"]
            if vport not in self.containers:
                self.containers[vport] = self.lab.container(vport.replace("vport-", "v"))
                self.ips[vport] = interface["IPAddress"]
            self.dataplanes[host].attach(Attachment(vport, interface["MAC"], self.containers[vport]))

    def sync(self) -> None:
        """Give every host a snapshot of what a fresh compile says it needs."""
        per_host = compile_host_entries(self.world.state)
        for host, dataplane in self.dataplanes.items():
            upserts = {k: encode_entry(k, v) for k, v in per_host.get(host, {}).items()}
            dataplane.apply(Change(snapshot=True, upserts=upserts))

    def observed(self, flow: Flow) -> bool:
        """Whether real packets get through."""
        source = self.containers[flow.src]
        if flow.proto == "raw":
            mac = self.scenario.interface(flow.dst)["MAC"]
            return self.lab.frame_passes(source, self.containers[flow.dst], mac, flow.ether_type)
        if flow.proto == "icmp":
            return self.lab.pings(source, self.ips[flow.dst])
        return self.lab.connects(source, flow.proto, self.ips[flow.dst], flow.port)

    def listen(self, netns: str, proto: str, port: int) -> None:
        if (netns, proto, port) not in self.listening:
            self.lab.listen(netns, proto, port)
            self.listening.add((netns, proto, port))

    def listen_everywhere(self, *services: tuple[str, int]) -> None:
        """Listeners in every container that does not have them yet."""
        for netns in self.containers.values():
            for proto, port in services:
                self.listen(netns, proto, port)

    def listen_for(self, flows: list[Flow]) -> None:
        """A listener at each flow's destination only: a flow that reaches another endpoint
        with the same address (another tenant's) then fails, as it must."""
        for flow in flows:
            if flow.proto in ("tcp", "udp"):
                self.listen(self.containers[flow.dst], flow.proto, flow.port)

    def check(self, flows: list[Flow]) -> dict[Flow, tuple[bool, bool]]:
        """(the oracle's verdict, what real packets did) per flow; they must agree."""
        results = {flow: (self.scenario.expected(flow), self.observed(flow)) for flow in flows}
        assert all(expected == observed for expected, observed in results.values()), results
        return results

    def close(self) -> None:
        for dataplane in self.dataplanes.values():
            dataplane.close()
