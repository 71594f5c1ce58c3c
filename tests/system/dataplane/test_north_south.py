"""North-south on the Linux dataplane with real packets: a router on the underlay, an outside
client behind it, floating IPs (in and out), PAT for a subnet (two tenants with the same
addresses at once), policy on outside traffic, and a floating IP taken away mid-connection.
The router learns floating IPs by a static route here (BGP announces them in the gateway tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab, sh

from ...support.behaviour import Scenario
from ...support.linux_site import Site
from ...support.north_south import FIP, two_tenants
from ...support.sockets import exchange, links_of, open_connection


@pytest.fixture
def outside(lab: Lab) -> Iterator[tuple[Site, dict[str, str], str, str]]:
    world, _, n = two_tenants()
    site = Site(lab, Scenario("north-south", world, [], n))
    router, client, client_ip = lab.outside()
    h1 = next(ns for ns in lab.hosts if ns.endswith("-h1"))
    sh("ip", "-n", router, "route", "add", f"{FIP}/32", "via", lab.hosts[h1])  # what BGP will say
    try:
        site.attach_all()
        site.sync()
        for vport in (n["web1"], n["web2"]):
            for port in (80, 22):
                site.listen(site.containers[vport], "tcp", port)
        site.listen(client, "tcp", 8080)
        yield site, n, client, client_ip
    finally:
        site.close()


@pytest.mark.slow
def test_floating_ip_pat_and_policy_with_the_outside(
    outside: tuple[Site, dict[str, str], str, str], lab: Lab
) -> None:
    site, n, client, client_ip = outside
    underlay = {ns.rsplit("-", 1)[1]: ip for ns, ip in lab.hosts.items()}
    # In: the floating IP reaches web1 on tcp/80; policy refuses tcp/22.
    assert lab.connects(client, "tcp", FIP, 80)
    assert not lab.connects(client, "tcp", FIP, 22)
    # Out: web1 leaves as its floating IP; db1 (PAT) as its host; web2 (no PAT, no FIP) not at all.
    assert lab.seen_as(site.containers[n["web1"]], client_ip, 8080) == FIP
    assert lab.seen_as(site.containers[n["db1"]], client_ip, 8080) == underlay["h2"]
    assert lab.seen_as(site.containers[n["web2"]], client_ip, 8080) is None
    # Two tenants with the same addresses, both translated on h2, at once.
    with open_connection(site.containers[n["db1"]], client_ip, 8080) as first:
        with open_connection(site.containers[n["x-db1"]], client_ip, 8080) as second:
            assert exchange(first) and exchange(second)
    # A restarted agent adopts the uplink (same links) and translated flows carry on.
    host = site.host_of["h1"]
    h1_ns = site.dataplanes[host].host_netns
    assert h1_ns is not None
    links_before = links_of(h1_ns)
    with open_connection(client, FIP, 80) as conn:
        assert exchange(conn)
        old = site.dataplanes[host]
        old.close()
        site.dataplanes[host] = LinuxDataplane(host, old.underlay_ip, host_netns=old.host_netns)
        site.sync()
        assert exchange(conn)
    assert links_of(h1_ns) == links_before
    # The floating IP taken away: an established connection stops, new ones fail.
    with open_connection(client, FIP, 80) as conn:
        assert exchange(conn)
        del site.world.state.objects["vport"][n["web1"]]["associatedFloatingIPID"]
        site.sync()
        assert not exchange(conn)
    assert not lab.connects(client, "tcp", FIP, 80)
    assert lab.seen_as(site.containers[n["web1"]], client_ip, 8080) is None
    assert lab.seen_as(site.containers[n["db1"]], client_ip, 8080) == underlay["h2"]
    # Decommissioning the host takes its uplinks and the host's NAT table with its namespaces.
    removed = site.dataplanes[host].decommission()
    assert "nft table ip overcast_host" in removed
    assert not [name for name in links_of(h1_ns) if name.startswith("ou")]
    assert "overcast_host" not in sh("ip", "netns", "exec", h1_ns, "nft", "list", "tables").stdout
