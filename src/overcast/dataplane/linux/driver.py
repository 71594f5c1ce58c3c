"""The Linux dataplane: per-domain namespaces, bridges with anycast gateways, VXLAN without
flooding, veths into containers, and the nftables firewall (shared/reference/datapath.md §3).

Ownership without memory: everything this driver creates is named from the host ID and the
desired state — domain namespaces ``ovc-<host>-<domain8>``, bridges ``ob<vni>``, VXLAN devices
``ox<vni>``, endpoint veths ``ov<hash>``, nft table ``inet overcast`` — so a restarted agent finds
and adopts what is there (same names, nothing recreated) and sweeps only names it owns.

Each change reconciles the domains it touches, reading the kernel back: links, addresses,
neighbours and FDB entries are compared with what the domain's view wants and only the
difference is applied. Netlink goes through pyroute2 sockets opened inside each namespace
(``setns`` on the driver's own thread, no helper processes: forking beside gRPC's threads
crashes); the firewall through ``nft -f`` (one atomic transaction per domain).
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import xxhash
from pyroute2 import IPRoute, NetlinkError

from ...agent.state import Change, views_of
from ...policy.compiler import DomainView, Key
from ..base import Attachment, Dataplane, DataplaneError
from .nftables import ruleset

log = logging.getLogger("overcast.dataplane.linux")

VXLAN_PORT = 4789
NTF_SELF, NTF_MASTER = 0x02, 0x04
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
OWNED_LINK_PREFIXES = ("ob", "ox", "ov")


def _run(*args: str, stdin: str | None = None) -> None:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise DataplaneError(f"{' '.join(args[:4])}…: {result.stderr.strip() or result.stdout.strip()}")


_LIBC = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if _LIBC.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


@contextmanager
def _in_netns(name: str | None) -> Iterator[None]:
    """Run the block in a named network namespace — this thread only, and back afterwards.
    (pyroute2's pushns/popns keep one process-wide stack, which threads applying several
    hosts' changes at once corrupt.)"""
    if name is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def _socket(name: str | None) -> IPRoute:
    """A netlink socket bound to a namespace (the socket keeps it after we switch back)."""
    with _in_netns(name):
        return IPRoute()


def _attr(message: Any, name: str) -> Any:
    return message.get_attr(name)


class LinuxDataplane(Dataplane):
    blocking = True

    def __init__(
        self, host_id: str, underlay_ip: str, *, host_netns: str | None = None, mtu: int = 1450
    ) -> None:
        self.host_id = host_id
        self.underlay_ip = underlay_ip
        self.host_netns = host_netns
        self.mtu = mtu
        self.prefix = f"ovc-{''.join(c for c in host_id if c.isalnum())[:16]}-"
        self.entries: dict[Key, Any] = {}
        self.attachments: dict[str, Attachment] = {}
        self._sockets: dict[str, IPRoute] = {}
        self._rulesets: dict[str, str] = {}
        self._host: IPRoute | None = None
        # pyroute2's synchronous sockets belong to the thread that made them: used from another
        # thread they talk to that thread's namespace (measured: bridges landed in the root
        # namespace). Every kernel operation therefore runs on this one thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dataplane-{host_id}")

    # --- the interface ---------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        self._worker.submit(self._apply, change).result()

    def _apply(self, change: Change) -> None:
        values = change.values()
        before = {k[1] for k in self.entries}
        if change.snapshot:
            self.entries = dict(values)
        else:
            for key in change.removals:
                self.entries.pop(key, None)
            self.entries.update(values)
        touched = {k[1] for k in change.upserts} | {k[1] for k in change.removals}
        if change.snapshot:
            touched |= before | set(self._owned_domains())
        try:
            self._reconcile(touched, sweep=change.snapshot)
        except (NetlinkError, OSError) as exc:
            raise DataplaneError(f"programming the datapath failed: {exc}") from exc

    def attach(self, attachment: Attachment) -> None:
        self.attachments[attachment.vport_id] = attachment

    def detach(self, vport_id: str) -> None:
        self._worker.submit(self._detach, vport_id).result()

    def _detach(self, vport_id: str) -> None:
        attachment = self.attachments.pop(vport_id, None)
        if attachment is None:
            return
        name = self.veth_name(vport_id)
        for ipr in self._sockets.values():
            for index in ipr.link_lookup(ifname=name):
                ipr.link("del", index=index)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "linux",
            "namespaces": sorted(self._owned_domains().values()),
            "attachments": sorted(self.attachments),
        }

    def close(self) -> None:
        self._worker.submit(self._close).result()
        self._worker.shutdown()

    def _close(self) -> None:
        for ipr in self._sockets.values():
            ipr.close()
        self._sockets.clear()
        if self._host is not None:
            self._host.close()
            self._host = None

    # --- names -----------------------------------------------------------------------------------

    def netns_name(self, domain_id: str) -> str:
        return self.prefix + domain_id.replace("-", "")[:8]

    @staticmethod
    def veth_name(vport_id: str) -> str:
        return "ov" + xxhash.xxh3_64_hexdigest(vport_id.encode())[:12]

    def _owned_domains(self) -> dict[str, str]:
        """Domain ID prefix -> namespace name, for the namespaces of this host."""
        try:
            names = os.listdir("/run/netns")
        except FileNotFoundError:
            return {}
        return {n[len(self.prefix) :]: n for n in names if n.startswith(self.prefix)}

    # --- reconciling -----------------------------------------------------------------------------

    def _reconcile(self, domains: set[str], *, sweep: bool) -> None:
        views = {v.id: v for v in views_of(self.entries, self.host_id)}
        wanted = {self.netns_name(d) for d, v in views.items() if v.local}
        for domain_id in sorted(domains):
            view = views.get(domain_id)
            if view is not None and view.local:
                self._program(view)
        owned = self._owned_domains().values()
        stale = [
            n for n in owned if n not in wanted and (sweep or n in {self.netns_name(d) for d in domains})
        ]
        for name in stale:
            self._remove_netns(name)

    def _remove_netns(self, name: str) -> None:
        ipr = self._sockets.pop(name, None)
        if ipr is not None:
            ipr.close()
        self._rulesets.pop(name, None)
        _run("ip", "netns", "del", name)
        log.info("removed %s", name)

    def _netns(self, name: str) -> IPRoute:
        if name not in self._sockets:
            if not os.path.exists(f"/run/netns/{name}"):
                _run("ip", "netns", "add", name)
                _run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                     "net.bridge.bridge-nf-call-iptables=1")  # fmt: skip
            ipr = _socket(name)
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
            self._sockets[name] = ipr
        return self._sockets[name]

    def _host_socket(self) -> IPRoute:
        if self._host is None:
            self._host = _socket(self.host_netns)
        return self._host

    def _program(self, view: DomainView) -> None:
        name = self.netns_name(view.id)
        ipr = self._netns(name)
        links = {_attr(link, "IFLA_IFNAME"): link for link in ipr.get_links()}
        wanted: set[str] = set()
        bridges: dict[str, int] = {}  # subnet ID -> bridge ifindex
        vxlans: dict[str, int] = {}
        for subnet in view.subnets:
            if subnet.vni is None or not subnet.prefix:
                continue
            bridge, vxlan = f"ob{subnet.vni}", f"ox{subnet.vni}"
            wanted |= {bridge, vxlan}
            bridges[subnet.id] = self._bridge(ipr, links, bridge, subnet)
            vxlans[subnet.id] = self._vxlan(ipr, links, vxlan, subnet.vni, bridges[subnet.id])
        ports: dict[str, int] = {}  # vport -> veth ifindex
        for endpoint in view.local:
            if endpoint.subnet_id not in bridges:
                continue
            veth = self.veth_name(endpoint.vport_id)
            attachment = self.attachments.get(endpoint.vport_id)
            if attachment is None or attachment.netns is None:
                if veth in links:  # plumbed by an earlier run of the agent: adopt it as it is
                    wanted.add(veth)
                    ports[endpoint.vport_id] = links[veth]["index"]
                continue
            wanted.add(veth)
            subnet = next(s for s in view.subnets if s.id == endpoint.subnet_id)
            port_master = bridges[subnet.id]
            ports[endpoint.vport_id] = self._veth(ipr, links, veth, attachment, endpoint, subnet, port_master)
        for ifname, link in links.items():
            if ifname and ifname.startswith(OWNED_LINK_PREFIXES) and ifname not in wanted:
                ipr.link("del", index=link["index"])
        self._neighbours(ipr, view, bridges, vxlans, ports)
        text = ruleset(view)
        if self._rulesets.get(name) != text:
            _run("ip", "netns", "exec", name, "nft", "-f", "-", stdin=text)
            if name in self._rulesets:
                self._flush_conntrack(name)  # established flows are judged again by the new rules
            self._rulesets[name] = text

    def _bridge(self, ipr: IPRoute, links: dict[str, Any], name: str, subnet: Any) -> int:
        if name not in links:
            ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_mcast_snooping=0)
        index = ipr.link_lookup(ifname=name)[0]
        if subnet.gateway_mac:
            ipr.link("set", index=index, address=subnet.gateway_mac)
        prefixlen = ipaddress.IPv4Network(subnet.prefix).prefixlen
        have = {(_attr(a, "IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=2)}
        want = {(subnet.gateway, prefixlen)} if subnet.gateway else set()
        for address, length in have - want:
            ipr.addr("del", index=index, address=address, prefixlen=length)
        for address, length in want - have:
            ipr.addr("add", index=index, address=address, prefixlen=length)
        ipr.link("set", index=index, state="up")
        return index

    def _vxlan(self, ipr: IPRoute, links: dict[str, Any], name: str, vni: int, bridge: int) -> int:
        if name not in links:
            # Created in the host namespace so its UDP socket binds the underlay, then moved.
            host = self._host_socket()
            for stale in host.link_lookup(ifname=name):
                host.link("del", index=stale)
            host.link(
                "add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=self.underlay_ip,
                vxlan_port=VXLAN_PORT, vxlan_learning=0, vxlan_ttl=64,
            )  # fmt: skip
            host.link("set", index=host.link_lookup(ifname=name)[0], net_ns_fd=self._netns_of(ipr))
        index = ipr.link_lookup(ifname=name)[0]
        ipr.link("set", index=index, master=bridge, mtu=self.mtu)
        ipr.brport(
            "set", index=index, learning=0, neigh_suppress=1, unicast_flood=0, mcast_flood=0, bcast_flood=0
        )
        ipr.link("set", index=index, state="up")
        return index

    def _netns_of(self, ipr: IPRoute) -> str:
        return next(name for name, sock in self._sockets.items() if sock is ipr)

    def _veth(
        self, ipr: IPRoute, links: dict[str, Any], name: str, attachment: Attachment, endpoint: Any,
        subnet: Any, bridge: int,
    ) -> int:  # fmt: skip
        if name not in links:
            ipr.link(
                "add",
                ifname=name,
                kind="veth",
                peer={"ifname": attachment.ifname, "net_ns_fd": attachment.netns},
            )
            self._configure_container(attachment, endpoint, subnet)
        index = ipr.link_lookup(ifname=name)[0]
        ipr.link("set", index=index, master=bridge, mtu=self.mtu, state="up")
        # The bridge answers ARP for every known endpoint: no ARP is forwarded between ports.
        ipr.brport("set", index=index, learning=0)
        return index

    def _configure_container(self, attachment: Attachment, endpoint: Any, subnet: Any) -> None:
        container = _socket(attachment.netns)
        try:
            index = container.link_lookup(ifname=attachment.ifname)[0]
            container.link("set", index=index, address=endpoint.mac, mtu=self.mtu, state="up")
            container.link("set", index=container.link_lookup(ifname="lo")[0], state="up")
            if endpoint.ip:
                prefixlen = ipaddress.IPv4Network(subnet.prefix).prefixlen
                container.addr("add", index=index, address=endpoint.ip, prefixlen=prefixlen)
                if subnet.gateway:
                    container.route("add", dst="0.0.0.0/0", gateway=subnet.gateway)
        finally:
            container.close()

    def _neighbours(
        self,
        ipr: IPRoute,
        view: DomainView,
        bridges: dict[str, int],
        vxlans: dict[str, int],
        ports: dict[str, int],
    ) -> None:
        port_bridge = {vxlans[s]: bridges[s] for s in vxlans}
        for endpoint in view.local:
            if endpoint.vport_id in ports:
                port_bridge[ports[endpoint.vport_id]] = bridges[endpoint.subnet_id]
        want_neigh: dict[tuple[int, str], str] = {}
        want_fdb: dict[tuple[int, str], tuple[int, str | None]] = {}  # (ifindex, mac) -> (flags, dst)
        for endpoint in (*view.local, *view.remote):
            bridge = bridges.get(endpoint.subnet_id)
            if bridge is None:
                continue
            if endpoint.ip:
                want_neigh[(bridge, endpoint.ip)] = endpoint.mac
            if endpoint.host_id == self.host_id:
                if endpoint.vport_id in ports:
                    want_fdb[(ports[endpoint.vport_id], endpoint.mac)] = (NTF_MASTER, None)
            elif endpoint.vtep:
                vxlan = vxlans[endpoint.subnet_id]
                want_fdb[(vxlan, endpoint.mac)] = (NTF_MASTER, None)
                want_fdb[(vxlan, endpoint.mac + "/self")] = (NTF_SELF, endpoint.vtep)
        for bridge in set(bridges.values()):
            for entry in ipr.get_neighbours(ifindex=bridge, family=2):
                ip, mac = _attr(entry, "NDA_DST"), _attr(entry, "NDA_LLADDR")
                if entry["state"] & NUD_PERMANENT and want_neigh.get((bridge, ip)) != mac:
                    ipr.neigh("del", ifindex=bridge, dst=ip, lladdr=mac)
        for (bridge, ip), mac in want_neigh.items():
            ipr.neigh("replace", ifindex=bridge, dst=ip, lladdr=mac, state="permanent")
        owned_ports = set(vxlans.values()) | set(ports.values())
        for entry in ipr.fdb("dump"):
            index, mac = entry["ifindex"], _attr(entry, "NDA_LLADDR")
            if index not in owned_ports or mac is None:
                continue
            is_self = bool(entry["flags"] & NTF_SELF)
            key = (index, mac + "/self") if is_self else (index, mac)
            if (
                mac != "00:00:00:00:00:00"
                and key not in want_fdb
                and entry["state"] & (NUD_NOARP | NUD_PERMANENT)
            ):
                if is_self:
                    ipr.fdb("del", ifindex=index, lladdr=mac, dst=_attr(entry, "NDA_DST"), flags=NTF_SELF)
                else:
                    ipr.fdb(
                        "del", ifindex=index, lladdr=mac, master=_attr(entry, "NDA_MASTER"), flags=NTF_MASTER
                    )
        for (index, mac), (flags, dst) in want_fdb.items():
            mac = mac.removesuffix("/self")
            if flags == NTF_SELF:
                ipr.fdb("replace", ifindex=index, lladdr=mac, dst=dst, flags=NTF_SELF, state=NUD_PERMANENT)
            else:
                ipr.fdb(
                    "replace",
                    ifindex=index,
                    lladdr=mac,
                    master=port_bridge[index],
                    flags=NTF_MASTER,
                    state=NUD_NOARP,
                )

    def _flush_conntrack(self, name: str) -> None:
        """Forget the domain's tracked flows: each is judged again by the new rules on its next
        packet (TCP is picked up mid-stream), so a flow policy no longer allows is cut. Through
        the conntrack tool inside the namespace: pyroute2's conntrack socket does not follow
        setns (measured: it flushed the root namespace's table instead)."""
        result = subprocess.run(
            ["ip", "netns", "exec", name, "conntrack", "-F"], capture_output=True, text=True
        )
        if result.returncode != 0 and "0 flow entries" not in result.stderr:
            raise DataplaneError(f"conntrack -F in {name}: {result.stderr.strip()}")
