"""The Linux dataplane: per-domain namespaces, bridges with anycast gateways, VXLAN without
flooding, veths into containers, and the nftables firewall (shared/reference/datapath.md §3).

Ownership without memory: everything this driver creates is named from the host ID and the
desired state — domain namespaces ``ovc-<host>-<domain8>``, bridges ``ob<vni>``, VXLAN devices
``ox<vni>``, endpoint veths ``ov<hash>``, nft table ``inet overcast`` — so a restarted agent finds
and adopts what is there (same names, nothing recreated) and sweeps only names it owns.

Incremental, Felix-style: for each domain a change touches, the driver computes the namespace's
:class:`~.plan.DomainPlan` (pure) and writes only its difference from what it last programmed —
a cache of the kernel it trusts between full syncs. A snapshot (the first sync, a resync after a
nack) reads the kernel back instead; any failure drops the domain's cache, so the next sync
reads the kernel again. Set membership changes are nft element updates (one transaction, in
process through libnftables); only a change of the rules' shape reloads the table.

Netlink goes through pyroute2 sockets opened inside each namespace (``setns`` on the driver's
own thread, no helper processes: forking beside gRPC's threads crashes).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyroute2 import IPRoute, NetlinkError

from ...policy.compiler import DomainView, Key, domain_view
from ...vms.dhcp import Lease
from ...vms.responder import DomainDhcp
from ..base import Attachment, Dataplane, DataplaneError
from ..change import Change
from . import kernel
from .firewall import program_firewall, read_counters, summarise_counters
from .forwarding import program_forwarding
from .libnft import Nft, NftError
from .links import Host, interface_counts, program_links
from .nat import HOST_LINK, HOST_NAT, HOST_TABLE, keep_index, link_index, needs_uplink
from .netns import in_netns
from .nflog import LoggedPacket, NflogReader, NflogSocket
from .nftables import short_hash
from .plan import (
    BRIDGE,
    OWNED_LINK_PREFIXES,
    VETH,
    VXLAN,
    dhcp_leases,
    plan_domain,
    uplink_name,
    veth_name,
)
from .programmed import LOOPBACK, Namespace, Programmed
from .rtnl import NTF_SELF, NUD_NOARP, NUD_PERMANENT, attr, index_of, rtnl_socket
from .uplink import program_uplink

log = logging.getLogger("overcast.dataplane.linux")


def _socket(name: str | None) -> IPRoute:
    """A netlink socket bound to a namespace (the socket keeps it after we switch back)."""
    with in_netns(name):
        return IPRoute()


_UNSET = object()  # in an undo log: the key was not there


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
        #: The desired state, decoded, by domain.
        self.domains: dict[str, dict[Key, Any]] = {}
        self.attachments: dict[str, Attachment] = {}
        self._namespaces: dict[str, Namespace] = {}
        self._host: IPRoute | None = None
        self._uplinks: dict[str, int] | None = None  # the host's uplink ends -> their numbers
        self._host_nat_loaded = False
        self._links_host = Host(self._host_socket, underlay_ip, mtu, self.attachments, self._endpoint)
        # pyroute2's synchronous sockets belong to the thread that made them: used from another
        # thread they talk to that thread's namespace (measured: bridges landed in the root
        # namespace). Every kernel operation therefore runs on this one thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"dataplane-{host_id}")
        #: Namespaces whose NFLOG socket is open (their rules log flows), and the thread reading them.
        self._flow_logged: set[str] = set()
        self._flow_reader: NflogReader | None = None
        #: Per domain namespace: the DHCP responder of its endpoint ports, and the view its
        #: table is derived from when a request comes (never on the programming path).
        self._dhcp: dict[str, DomainDhcp] = {}
        self._dhcp_views: dict[str, DomainView] = {}
        self._dhcp_tables: dict[str, tuple[DomainView, dict[str, tuple[Lease, str]]]] = {}

    # --- the interface ---------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        self._worker.submit(self._apply, change).result()

    def _apply(self, change: Change) -> None:
        """The contract of :meth:`Dataplane.apply`: on failure ``domains`` (the desired state
        the driver plans from) is what it was, restored from an undo log of this change's own
        edits (a copy of every touched domain would cost the hot path its size); namespaces the
        failure left half-programmed have dropped their caches, so the next sync reads the
        kernel again. What did get programmed stays: a refused update is followed by a snapshot."""
        values = change.values()
        previous: dict[str, dict[Key, Any]] | None = None
        undo: list[tuple[Key, Any]] = []  # (key, value before this change or _UNSET)
        if change.snapshot:
            touched = set(self.domains) | {k[1] for k in values}
            previous, self.domains = self.domains, {}
        else:
            touched = {k[1] for k in change.upserts} | {k[1] for k in change.removals}
            for key in change.removals:
                entries = self.domains.get(key[1])
                if entries is not None and key in entries:
                    undo.append((key, entries.pop(key)))
                    if not entries:
                        del self.domains[key[1]]
        for key, value in values.items():
            entries = self.domains.setdefault(key[1], {})
            if previous is None:
                undo.append((key, entries.get(key, _UNSET)))
            entries[key] = value
        try:
            self._reconcile(touched, full=change.snapshot)
        except (NetlinkError, OSError, NftError, DataplaneError) as exc:
            if previous is not None:
                self.domains = previous
            else:
                for key, old in reversed(undo):
                    entries = self.domains.setdefault(key[1], {})
                    if old is _UNSET:
                        entries.pop(key, None)
                    else:
                        entries[key] = old
                    if not entries:
                        del self.domains[key[1]]
            if isinstance(exc, DataplaneError):
                raise
            raise DataplaneError(f"programming the datapath failed: {exc}") from exc

    def attach(self, attachment: Attachment) -> None:
        self.attachments[attachment.vport_id] = attachment

    def detach(self, vport_id: str) -> None:
        self._worker.submit(self._detach, vport_id).result()

    def _detach(self, vport_id: str) -> None:
        if self.attachments.pop(vport_id, None) is None:
            return
        name = veth_name(vport_id)
        for namespace in self._namespaces.values():
            index = index_of(namespace.ipr, name)
            if index is not None:
                namespace.ipr.link("del", index=index)
            if namespace.programmed is not None:
                namespace.programmed.forget_link(name)

    def counters(self) -> dict[str, dict[str, Any]]:
        return self._worker.submit(self._counters).result()

    def _counters(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for domain_id in self.domains:
            name = self.netns_name(domain_id)
            view = self._view(domain_id)
            if view is None or name not in self._owned_namespaces().values():
                continue
            namespace = self._namespace(name)
            out[domain_id] = summarise_counters(
                read_counters(namespace), view, interface_counts(namespace, view)
            )
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "linux",
            "namespaces": sorted(self._owned_namespaces().values()),
            "attachments": sorted(self.attachments),
        }

    def close(self) -> None:
        self._worker.submit(self._close).result()
        self._worker.shutdown()

    def _close(self) -> None:
        for name in list(self._dhcp):
            self._stop_dhcp(name)
        if self._flow_reader is not None:
            self._flow_reader.close()
            self._flow_reader = None
            self._flow_logged.clear()
        for namespace in self._namespaces.values():
            namespace.close()
        self._namespaces.clear()
        if self._host is not None:
            self._host.close()
            self._host = None

    def decommission(self) -> list[str]:
        """Remove every kernel object this host's agent owns: its domain namespaces (with their
        bridges, VXLANs, nft tables and endpoint veths — a container keeps its namespace and
        loses the interface) and VXLAN devices left in the host namespace by an interrupted
        creation. Forwarding stops. Idempotent; returns what it removed.

        For a host that is being retired, never for a restart (a restarted agent adopts).
        """
        return self._worker.submit(self._decommission).result()

    def _decommission(self) -> list[str]:
        removed = []
        for name in sorted(self._owned_namespaces().values()):
            self._remove_netns(name)
            removed.append(f"netns {name}")
        host = self._host_socket()
        for link in host.get_links():
            ifname = str(attr(link, "IFLA_IFNAME") or "")
            if ifname.startswith(VXLAN) and link.get_attr("IFLA_LINKINFO") is not None:
                host.link("del", index=link["index"])
                removed.append(f"link {ifname}")
        with in_netns(self.host_netns):
            nft = Nft()
        try:
            if f"table ip {HOST_TABLE}" in nft.run("list tables"):
                nft.run(f"delete table ip {HOST_TABLE}")
                removed.append(f"nft table ip {HOST_TABLE}")
        finally:
            nft.close()
        self._host_nat_loaded = False
        return removed

    # --- names -----------------------------------------------------------------------------------

    def netns_name(self, domain_id: str) -> str:
        return self.prefix + short_hash(domain_id)

    veth_name = staticmethod(veth_name)

    def _owned_namespaces(self) -> dict[str, str]:
        """Domain ID hash -> namespace name, for the namespaces of this host."""
        try:
            names = os.listdir("/run/netns")
        except FileNotFoundError:
            return {}
        return {n[len(self.prefix) :]: n for n in names if n.startswith(self.prefix)}

    # --- reconciling -----------------------------------------------------------------------------

    def _view(self, domain_id: str) -> DomainView | None:
        entries = self.domains.get(domain_id)
        if not entries or ("domain", domain_id) not in entries:
            return None
        return domain_view(entries.items(), self.host_id)

    def _reconcile(self, touched: set[str], *, full: bool) -> None:
        """Program the touched domains; remove namespaces of domains without local endpoints
        (on a full sync: every namespace of this host that is not wanted)."""
        wanted: dict[str, DomainView] = {}
        for domain_id in sorted(touched):
            view = self._view(domain_id)
            if view is not None and view.local:
                wanted[self.netns_name(domain_id)] = view
        for name, view in wanted.items():
            self._program(name, view, full=full)
        owned = set(self._owned_namespaces().values())
        candidates = owned if full else owned & {self.netns_name(d) for d in touched}
        for name in sorted(candidates - set(wanted)):
            self._remove_netns(name)

    def _serve_dhcp(self, name: str, view: DomainView) -> None:
        """Answer the domain's endpoints' DHCP on their ports with the directory's addresses
        (VMs ask; containers configured by their runtime never do)."""
        self._dhcp_views[name] = view
        if name not in self._dhcp:
            self._dhcp[name] = DomainDhcp(name, lambda: self._leases(name))

    def _leases(self, name: str) -> dict[str, tuple[Lease, str]]:
        """The namespace's DHCP table (the responder's thread), derived once per view."""
        view = self._dhcp_views.get(name)
        if view is None:
            return {}
        cached = self._dhcp_tables.get(name)
        if cached is None or cached[0] is not view:
            cached = (view, dhcp_leases(view, self.mtu))
            self._dhcp_tables[name] = cached
        return cached[1]

    def _stop_dhcp(self, name: str) -> None:
        responder = self._dhcp.pop(name, None)
        self._dhcp_views.pop(name, None)
        self._dhcp_tables.pop(name, None)
        if responder is not None:
            responder.close()

    def _follow_flow_logs(self, name: str, view: DomainView) -> None:
        """Read the namespace's NFLOG while its rules log (and someone listens)."""
        logs = any(r.logged for r in (*view.ingress, *view.egress)) or any(
            d.log_denies and not d.allow_ip for d in (view.ingress_defaults, view.egress_defaults)
        )
        if logs and self.on_flows is not None and name not in self._flow_logged:
            if self._flow_reader is None:
                self._flow_reader = NflogReader(self._deliver_flows)
            self._flow_reader.add(name, NflogSocket(name), view.id)
            self._flow_logged.add(name)
        elif not logs and name in self._flow_logged:
            self._stop_flow_logs(name)

    def _stop_flow_logs(self, name: str) -> None:
        if name in self._flow_logged and self._flow_reader is not None:
            self._flow_reader.remove(name)
        self._flow_logged.discard(name)

    def _deliver_flows(self, domain_id: str, packets: list[LoggedPacket]) -> None:
        if self.on_flows is not None:
            self.on_flows(domain_id, packets)

    def flow_log_overflows(self) -> int:
        return self._flow_reader.overflows() if self._flow_reader is not None else 0

    def _remove_netns(self, name: str) -> None:
        self._stop_flow_logs(name)
        self._stop_dhcp(name)
        # Endpoint veths first: the kernel dismantles a deleted namespace asynchronously, and
        # until then the containers would keep interfaces to nowhere.
        namespace = self._namespaces.pop(name, None) or self._namespace_for_removal(name)
        for link in namespace.ipr.get_links():
            if str(attr(link, "IFLA_IFNAME") or "").startswith(VETH):
                namespace.ipr.link("del", index=link["index"])
        namespace.close()
        kernel.delete_netns(name)  # its uplink's pair goes with it
        if self._uplinks is not None:
            self._uplinks.pop(HOST_LINK + name[len(self.prefix) :], None)
        log.info("removed %s", name)

    def _namespace_for_removal(self, name: str) -> Namespace:
        with in_netns(name):
            return Namespace(name, IPRoute(), Nft(), rtnl_socket())

    def _namespace(self, name: str) -> Namespace:
        if name not in self._namespaces:
            if not os.path.exists(f"/run/netns/{name}"):
                kernel.add_netns(name)
                kernel.set_sysctls(name, kernel.ROUTER_SYSCTLS)
            with in_netns(name):
                ipr, nft, rtnl = IPRoute(), Nft(), rtnl_socket()
                nft.run("list tables")  # opens libnftables' netlink socket here, in the namespace
            ipr.link("set", index=LOOPBACK, state="up")
            self._namespaces[name] = Namespace(name, ipr, nft, rtnl)
        return self._namespaces[name]

    def _uplink_index(self, view: DomainView) -> int | None:
        """The number of the domain's uplink on this host (kept while it has one; numbers in use
        are read back from the host namespace's uplink ends)."""
        if not needs_uplink(view):
            return None
        if self._uplinks is None:
            self._uplinks = {}
            host = self._host_socket()
            for link in host.get_links():
                name = str(attr(link, "IFLA_IFNAME") or "")
                if name.startswith(HOST_LINK):
                    for address in host.get_addr(index=link["index"], family=2):
                        index = link_index(attr(address, "IFA_ADDRESS"))
                        if index is not None:
                            self._uplinks[name] = index
        return keep_index(self._uplinks, uplink_name(view.id), view.id)

    def _host_ready(self) -> None:
        """The host namespace, once: it forwards, and masquerades what PAT sends out."""
        if self._host_nat_loaded:
            return
        kernel.set_sysctls(self.host_netns, {"net/ipv4/ip_forward": "1"})
        with in_netns(self.host_netns):
            nft = Nft()
        try:
            nft.run(HOST_NAT)
        finally:
            nft.close()
        self._host_nat_loaded = True

    def _host_socket(self) -> IPRoute:
        if self._host is None:
            self._host = _socket(self.host_netns)
        return self._host

    def _program(self, name: str, view: DomainView, *, full: bool) -> None:
        namespace = self._namespace(name)
        programmed = None if full else namespace.programmed
        # Invalid while we work: if anything below fails, the next sync reads the kernel again.
        namespace.programmed = None
        if programmed is None:
            programmed = self._read_kernel(namespace.ipr)
        plan = plan_domain(view, self.attachments, programmed.links, self.host_id, self._uplink_index(view))
        for vport_id, reason in plan.refused.items():
            log.warning("not plumbing vport %s: %s", vport_id, reason)
        program_links(namespace, plan, programmed, self._links_host)
        program_forwarding(namespace, plan, programmed)
        program_firewall(namespace, view, plan, programmed)
        self._follow_flow_logs(name, view)
        self._serve_dhcp(name, view)
        program_uplink(namespace, plan.uplink, programmed, self._host_socket(), self._host_ready)
        if plan.uplink is None and self._uplinks is not None:
            self._uplinks.pop(uplink_name(view.id), None)
        namespace.programmed = programmed

    def _read_kernel(self, ipr: IPRoute) -> Programmed:
        """What the namespace holds of ours. Link settings are not read back: every owned link
        is configured once more on a full sync (the same values: nothing visibly changes)."""
        programmed = Programmed()
        names: dict[int, str] = {}
        for link in ipr.get_links():
            ifname = attr(link, "IFLA_IFNAME")
            programmed.highest_index = max(programmed.highest_index, link["index"])
            if ifname and ifname.startswith(OWNED_LINK_PREFIXES):
                programmed.links[ifname] = link["index"]
                names[link["index"]] = ifname
        for index, ifname in names.items():
            if not ifname.startswith(BRIDGE):
                continue
            for entry in ipr.get_neighbours(ifindex=index, family=2):
                if entry["state"] & NUD_PERMANENT:
                    programmed.neighbours[(ifname, attr(entry, "NDA_DST"))] = attr(entry, "NDA_LLADDR")
        for entry in ipr.fdb("dump"):
            ifname, mac = names.get(entry["ifindex"]), attr(entry, "NDA_LLADDR")
            if ifname is None or mac is None or mac == "00:00:00:00:00:00":
                continue
            if entry["flags"] & NTF_SELF:
                # Ours: the VXLAN's per-MAC tunnel entries (not a veth's multicast list).
                if ifname.startswith(VXLAN) and entry["state"] & NUD_PERMANENT:
                    programmed.fdb[(ifname, mac, "self")] = attr(entry, "NDA_DST")
            elif entry["state"] & NUD_NOARP:  # static; the bridge's own port addresses are permanent
                programmed.fdb[(ifname, mac, "master")] = None
        return programmed

    def _endpoint(self, vport_id: str) -> Any:
        for domain_id, entries in self.domains.items():
            value = entries.get(("endpoint", domain_id, vport_id))
            if value is not None:
                return value
        raise DataplaneError(f"no endpoint for vport {vport_id}")
