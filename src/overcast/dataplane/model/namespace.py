"""A domain namespace as the Linux driver programs it, as a model a frame can walk through.

It holds what the driver would write — the :class:`~overcast.dataplane.linux.plan.DomainPlan`
(bridges with the anycast gateway, VXLAN devices, endpoint ports, permanent neighbours, FDB) and
the firewall loaded from the driver's own nftables scripts into :mod:`.nftables` — and forwards
a frame the way the kernel does with that configuration:

* a frame entering a bridge (from an endpoint's port or a VXLAN device) addressed to the
  bridge's MAC is routed: its destination is looked up in the connected routes of the bridges'
  addresses, the permanent neighbour entry gives the next MAC, and the ``inet`` forward hook
  judges it (to a bridge's own address: the input hook);
* any other frame is bridged by the FDB (learning is off: only the driver's entries exist; a
  MAC the FDB does not know is flooded to local ports, where no endpoint owns it): the
  ``bridge`` forward hook judges it, then — IPv4, br_netfilter on — the ``inet`` forward hook,
  which sees the bridge as both interfaces;
* a frame leaving by a VXLAN device goes to the VTEP of the device's own FDB entry for its MAC.

Conntrack is not modelled beyond the state of a new connection: traces are first packets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from ...policy.compiler import DomainView
from ..linux.nat import NAT_TABLE, UPLINK
from ..linux.nftables import firewall_update
from ..linux.plan import DomainPlan
from .nftables import IPV4, Frame, Ruleset, Step


@dataclass(frozen=True)
class Walk:
    """Where a frame ended in one namespace."""

    outcome: str  # delivered | tunnelled | local | outside | dropped
    reason: str
    frame: Frame  # as it left (or was dropped)
    steps: tuple[Step, ...]  # every verdict the firewall gave on the way
    port: str | None = None  # delivered: the endpoint's port
    vni: int | None = None  # tunnelled: in this VNI
    vtep: str | None = None  # tunnelled: to this underlay address


class DomainNamespace:
    def __init__(self) -> None:
        self.nft = Ruleset()
        self.plan: DomainPlan | None = None
        self.table: str | None = None  # the firewall's shape as loaded
        self.sets: dict[str, frozenset[str]] = {}
        self._fdb: dict[tuple[str, str], str] = {}  # (bridge, MAC) -> port or VXLAN device
        self._routes: list[tuple[ipaddress.IPv4Network, str]] = []  # longest prefix first
        self._vxlan_of_vni: dict[int, str] = {}
        self._vtep: dict[tuple[str, str], str] = {}  # (VXLAN device, MAC) -> remote VTEP
        self._nat: str | None = None  # the NAT script as loaded

    def program(self, view: DomainView, plan: DomainPlan) -> None:
        """What the Linux driver does with ``plan``: links, forwarding as planned, and the
        firewall by the same script (a reload when its shape changed, else set elements)."""
        update = firewall_update(view, plan.table, plan.sets, self.table, self.sets)
        if update is not None:
            self.nft.run(update.script)
            if update.reload:
                self.table, self.sets = plan.table, dict(plan.sets)
            else:
                self.sets.update(update.changed)
        nat = plan.uplink.nat if plan.uplink is not None else None
        if nat != self._nat:  # as the Linux driver's uplink does: reload, or remove
            self.nft.run(nat or f"table ip {NAT_TABLE} {{}}\ndelete table ip {NAT_TABLE}\n")
            self._nat = nat
        self.plan = plan
        self._fdb = {
            (plan.master_of(device), mac.lower()): device
            for device, mac, kind in plan.fdb
            if kind == "master"
        }
        routes = [
            (ipaddress.IPv4Interface(f"{spec.address[0]}/{spec.address[1]}").network, bridge)
            for bridge, spec in plan.bridges.items()
            if spec.address is not None
        ]
        self._routes = sorted(routes, key=lambda route: -route[0].prefixlen)
        self._vxlan_of_vni = {vni: name for name, (vni, _) in plan.vxlans.items()}
        self._vtep = {
            (device, mac.lower()): vtep
            for (device, mac, kind), vtep in plan.fdb.items()
            if kind == "self" and vtep is not None
        }

    def bridge_mac(self, bridge: str) -> str:
        mac = self.planned.bridges[bridge].mac
        return (mac or f"bridge {bridge}").lower()  # without one the kernel picks a random MAC

    @property
    def planned(self) -> DomainPlan:
        if self.plan is None:
            raise RuntimeError("the namespace was never programmed")
        return self.plan

    # --- the endpoint's side ---------------------------------------------------------------------

    def next_hop_mac(self, port: str, destination: str) -> str | None:
        """The MAC an endpoint on ``port`` sends a packet for ``destination`` to, as the driver
        configured it: on its subnet, the address the bridge answers ARP for (proxy ARP from
        the permanent neighbours); elsewhere, the gateway's. None: no answer, or no address
        (the driver configures a port's address only when its subnet has a gateway)."""
        bridge = self.planned.ports[port].bridge
        spec = self.planned.bridges[bridge]
        if spec.address is None:
            return None
        network = ipaddress.IPv4Interface(f"{spec.address[0]}/{spec.address[1]}").network
        if ipaddress.IPv4Address(destination) in network:
            if destination == spec.address[0]:
                return self.bridge_mac(bridge)
            mac = self.planned.neighbours.get((bridge, destination))
            return mac.lower() if mac else None
        return self.bridge_mac(bridge)

    # --- walking -----------------------------------------------------------------------------------

    def from_port(self, port: str, frame: Frame) -> Walk:
        if port not in self.planned.ports:
            return Walk("dropped", f"no port {port}", frame, ())
        return self._enter(self.planned.ports[port].bridge, port, frame)

    def from_vxlan(self, vni: int, frame: Frame) -> Walk:
        device = self._vxlan_of_vni.get(vni)
        if device is None:
            return Walk("dropped", f"no VXLAN device for VNI {vni}", frame, ())
        return self._enter(self.planned.vxlans[device][1], device, frame)

    def _enter(self, bridge: str, device: str, frame: Frame) -> Walk:
        if frame.dst_mac.lower() == self.bridge_mac(bridge):
            if frame.ether_type != IPV4:
                return Walk("dropped", "not IPv4, addressed to the gateway", frame, ())
            return self._route(bridge, frame)
        out = self._fdb.get((bridge, frame.dst_mac.lower()))
        if out is None:
            return Walk("dropped", "no-endpoint", frame, ())  # flooded to ports that do not own it
        if out == device:
            return Walk("dropped", "the bridge does not send a frame back where it came from", frame, ())
        bridged = self.nft.evaluate("bridge", "forward", replace(frame, iifname=device, oifname=out))
        steps = bridged.steps
        if bridged.accepted and frame.ether_type == IPV4:  # br_netfilter: the inet hook as well
            routed = self.nft.evaluate("inet", "forward", replace(frame, iifname=bridge, oifname=bridge))
            steps += routed.steps
            if not routed.accepted:
                return Walk("dropped", "firewall", frame, steps)
        elif not bridged.accepted:
            return Walk("dropped", "firewall", frame, steps)
        return self._leave(bridge, out, frame, steps)

    def from_uplink(self, frame: Frame) -> Walk:
        """A packet arriving from the host namespace by the domain's uplink."""
        if self.planned.uplink is None:
            return Walk("dropped", "no uplink", frame, ())
        return self._route(UPLINK, frame)

    def _route(self, device: str, frame: Frame) -> Walk:
        """Routing in the namespace for a packet that came in on ``device`` (a bridge, or the
        uplink): destination NAT first, then connected routes (the bridges' subnets), else the
        uplink's default route; source NAT on the way out."""
        frame = self.nft.translate("prerouting", replace(frame, iifname=device))
        assert frame.daddr is not None
        destination = ipaddress.IPv4Address(frame.daddr)
        own = {spec.address[0]: name for name, spec in self.planned.bridges.items() if spec.address}
        if frame.daddr in own:
            judged = self.nft.evaluate("inet", "input", replace(frame, iifname=device))
            outcome = "local" if judged.accepted else "dropped"
            return Walk(outcome, "to the gateway" if judged.accepted else "firewall", frame, judged.steps)
        out_bridge = next((name for network, name in self._routes if destination in network), None)
        if out_bridge is None:
            return self._out_by_uplink(device, frame)
        mac = self.planned.neighbours.get((out_bridge, frame.daddr))
        if mac is None:
            return Walk("dropped", "no-endpoint", frame, ())  # ARP unanswered: nothing owns it
        judged = self.nft.evaluate("inet", "forward", replace(frame, iifname=device, oifname=out_bridge))
        if not judged.accepted:
            return Walk("dropped", "firewall", frame, judged.steps)
        frame = self.nft.translate("postrouting", replace(frame, oifname=out_bridge))
        forwarded = replace(frame, src_mac=self.bridge_mac(out_bridge), dst_mac=mac.lower())
        out = self._fdb.get((out_bridge, forwarded.dst_mac))
        if out is None:
            return Walk("dropped", "no-endpoint", forwarded, judged.steps)
        return self._leave(out_bridge, out, forwarded, judged.steps)

    def _out_by_uplink(self, device: str, frame: Frame) -> Walk:
        if self.planned.uplink is None or device == UPLINK:
            return Walk("dropped", "no route", frame, ())
        judged = self.nft.evaluate("inet", "forward", replace(frame, iifname=device, oifname=UPLINK))
        if not judged.accepted:
            return Walk("dropped", "firewall", frame, judged.steps)
        frame = self.nft.translate("postrouting", replace(frame, oifname=UPLINK))
        return Walk("outside", "outside", replace(frame, iifname="", oifname=""), judged.steps)

    def _leave(self, bridge: str, device: str, frame: Frame, steps: tuple[Step, ...]) -> Walk:
        frame = replace(frame, iifname="", oifname="")
        if device in self.planned.ports:
            return Walk("delivered", "delivered", frame, steps, port=device)
        vni = self.planned.vxlans[device][0]
        vtep = self._vtep.get((device, frame.dst_mac))
        if vtep is None:
            return Walk("dropped", f"{device} knows no VTEP for {frame.dst_mac}", frame, steps)
        return Walk("tunnelled", "tunnelled", frame, steps, vni=vni, vtep=vtep)
