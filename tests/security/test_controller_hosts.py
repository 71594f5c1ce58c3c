"""The controller records a bounded number of hosts (issue 15, finding 10: 1,000 fake hosts
registered in 2 s, never removed)."""

from __future__ import annotations

from pathlib import Path

from overcast.agent.credentials import CSPROOT
from overcast.client.vsd import VsdClient
from overcast.controller.server import ControllerConfig
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ..support.control import HOSTS, session_outcome


def test_a_host_past_the_bound_is_refused_and_not_recorded(
    sqlite_server: ServedDirectory, tmp_path: Path
) -> None:
    config = ControllerConfig(listen="127.0.0.1:0", host_grace=2.0, max_hosts=len(HOSTS))
    with Cluster(sqlite_server.directory, tmp_path, HOSTS, controller_config=config) as cluster:

        cluster.wait_for(lambda: all(a.controller for a in cluster.agents.values()), "every host's session")
        error = cluster.run(session_outcome(cluster, "h4", credentials=CSPROOT, underlay="192.0.2.99"))
        assert "RESOURCE_EXHAUSTED" in error and "--max-hosts" in error
        # A host already recorded comes back as often as it likes.
        cluster.stop_agent("h1")
        cluster.start_agent("h1")
        cluster.wait_for(lambda: cluster.agents["h1"].controller is not None, "h1 to reconnect")
    names = sorted(v["name"] for v in VsdClient(sqlite_server.url).list_all("vrss"))
    assert names == sorted(HOSTS)
