"""The whole chain on real namespaces: vspk -> directory -> controller -> agents -> Linux."""

from __future__ import annotations

from pathlib import Path

from overcast.dataplane.linux.driver import LinuxDataplane
from overcast.lab import Lab
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ...support.lab import needs_root
from ...support.vspk_topology import Shop

pytestmark = needs_root


def test_vspk_policy_holds_for_real_packets(sqlite_server: ServedDirectory, tmp_path: Path, lab: Lab) -> None:
    hosts, netns_of = {}, {}
    for index, short in enumerate(("h1", "h2", "h3"), start=1):
        host_id = f"{lab.tag}{short}"
        hosts[host_id] = f"10.99.0.{index}"
        netns_of[host_id] = lab.host(short, hosts[host_id])
    dataplanes: list[LinuxDataplane] = []

    def linux(host_id: str, address: str) -> LinuxDataplane:
        dataplanes.append(LinuxDataplane(host_id, address, host_netns=netns_of[host_id]))
        return dataplanes[-1]

    with Cluster(sqlite_server.directory, tmp_path, hosts, dataplane=linux) as cluster:
        shop = Shop(sqlite_server)  # web1, web2 in web; db1 in db; web -> db tcp/3306
        containers = {name: lab.container(name) for name in ("web1", "web2", "db1")}
        placement = {"web1": f"{lab.tag}h1", "web2": f"{lab.tag}h2", "db1": f"{lab.tag}h3"}
        for name, host in placement.items():
            with cluster.client(host) as agent:
                result = agent.attach(shop.vports[name].id, shop.macs[name], containers[name])
            assert result["ip"] == shop.ips[name]
        cluster.assert_matches_directory()
        lab.listen(containers["db1"], "tcp", 3306)
        lab.listen(containers["db1"], "tcp", 22)
        lab.listen(containers["web2"], "tcp", 3306)
        assert lab.connects(containers["web1"], "tcp", shop.ips["db1"], 3306)
        assert lab.connects(containers["web2"], "tcp", shop.ips["db1"], 3306)
        assert not lab.connects(containers["web1"], "tcp", shop.ips["db1"], 22)
        assert not lab.connects(containers["db1"], "tcp", shop.ips["web2"], 3306)

        # Detach: the interface goes, and every host forgets the endpoint.
        with cluster.client(f"{lab.tag}h2") as agent:
            agent.detach(shop.vports["web2"].id)
        cluster.assert_matches_directory()
        assert not lab.connects(containers["web2"], "tcp", shop.ips["db1"], 3306)
    for dataplane in dataplanes:
        dataplane.close()
