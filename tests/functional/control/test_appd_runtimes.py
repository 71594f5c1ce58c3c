"""Containers join application tiers the way runtimes name networks (the CNI plugin's and the
Docker driver's request: enterprise, domain, zone, subnet and policy groups by name): a tier
with a network is the subnet "<app> - <tier>" in the zone "<app>"; a tier without one is the
policy group "<app> - <tier>", which a runtime may join though the application owns it."""

from __future__ import annotations

from pathlib import Path

from overcast.client.vsd import VsdClient
from overcast.protocol import controller_pb2 as pb
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ...support.appd import wordpress


def test_runtimes_join_tiers_by_name(sqlite_server: ServedDirectory, tmp_path: Path) -> None:
    admin = VsdClient(sqlite_server.url)
    admin.login()
    wp = wordpress(admin)
    worker = admin.create(
        f"appdapplications/{wp['app']['ID']}/appdtiers", {"name": "worker", "type": "STANDARD"}
    )
    group = admin.get(f"appdtiers/{worker['ID']}")
    assert group["associatedObjectType"] == "policygroup"
    with Cluster(sqlite_server.directory, tmp_path, {"h1": "192.0.2.1"}) as cluster:
        cluster.wait_converged()  # the session is up: requests go on it
        web = cluster.run(
            cluster.agents["h1"].create_endpoint(
                pb.EndpointCreate(
                    enterprise="acme",
                    domain="d",
                    zone="wordpress",
                    subnet="wordpress - web",
                    name="web1",
                    uuid="web1-eth0",
                )
            )
        )
        assert web.ip.startswith("10.10.1.")
        job = cluster.run(
            cluster.agents["h1"].create_endpoint(
                pb.EndpointCreate(
                    enterprise="acme",
                    domain="d",
                    zone="z",
                    subnet="s",
                    policy_groups=["wordpress - worker"],
                    name="job1",
                    uuid="job1-eth0",
                )
            )
        )
        members = admin.list_all(f"policygroups/{group['associatedObjectID']}/vports")
        assert [m["ID"] for m in members] == [job.vport_id]
