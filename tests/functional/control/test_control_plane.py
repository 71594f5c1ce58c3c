"""The control plane in one process: directory (REST) + controller + three agents (memory
dataplane) over real gRPC and real unix sockets, driven through the public APIs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from vspk import v6 as vsdk

from overcast.agent.client import AgentClientError
from overcast.testing.cluster import Cluster
from overcast.testing.directory import ServedDirectory

from ...support.control import HOSTS, attach, reach
from ...support.vspk_topology import Shop, session_for


@pytest.fixture
def cluster(directory_server: ServedDirectory, tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(directory_server.directory, tmp_path, HOSTS) as running:
        yield running


def test_topology_policy_and_membership_reach_exactly_the_right_hosts(
    cluster: Cluster, directory_server: ServedDirectory
) -> None:
    shop = Shop(directory_server)
    result = attach(cluster, "h1", shop, "web1")
    assert result["ip"] == shop.ips["web1"] and result["gateway"] == "10.10.1.1"
    assert result["prefix"] == "10.10.1.0/24" and result["host_id"] == "h1"
    attach(cluster, "h2", shop, "web2")
    attach(cluster, "h3", shop, "db1")
    cluster.assert_matches_directory()
    assert reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 3306)
    assert not reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 22)
    assert not reach(cluster, "h3", shop.ips["db1"], shop.ips["web1"], 3306)  # no rule that way

    # A second tenant on h1 only: h2 and h3 never hear of it, even with the same addresses.
    other = Shop(directory_server, "other")
    attach(cluster, "h1", other, "web1")
    cluster.assert_matches_directory()
    domains = cluster.call(lambda: {h: a.state.domain_ids() for h, a in cluster.agents.items()})
    assert domains == {
        "h1": sorted([shop.domain.id, other.domain.id]),
        "h2": [shop.domain.id],
        "h3": [shop.domain.id],
    }

    # A policy change propagates: allow ssh web -> db as well.
    shop.rule(shop.ingress, vsdk.NUIngressACLEntryTemplate, shop.web, shop.db, "22")
    shop.rule(shop.egress, vsdk.NUEgressACLEntryTemplate, shop.db, shop.web, "22")
    cluster.assert_matches_directory()
    with pytest.raises(ValueError, match="several domains"):  # both tenants have 10.10.1.2 on h1
        reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 22)
    assert reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 22, shop.domain.id)
    assert not reach(cluster, "h1", other.ips["web1"], shop.ips["db1"], 22, other.domain.id)

    # A membership change touches sets only: web2 leaves web and loses its access.
    before = cluster.call(lambda: cluster.agents["h2"].state.entries[("rules", shop.domain.id, "ingress")])
    shop.vports["web2"].assign([], vsdk.NUPolicyGroup)
    cluster.assert_matches_directory()
    assert not reach(cluster, "h2", shop.ips["web2"], shop.ips["db1"], 3306)
    assert reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 3306, shop.domain.id)
    after = cluster.call(lambda: cluster.agents["h2"].state.entries[("rules", shop.domain.id, "ingress")])
    assert before == after

    # Detach: the endpoint leaves every host; the directory says so.
    with cluster.client("h1") as client:
        client.detach(shop.vports["web1"].id)
        client.detach(shop.vports["web1"].id)  # idempotent
    cluster.assert_matches_directory()
    shop.vports["web1"].fetch()
    assert shop.vports["web1"].operational_state == "DOWN"


def test_hosts_are_recorded_read_only_and_endpoints_bound(
    cluster: Cluster, directory_server: ServedDirectory
) -> None:
    shop = Shop(directory_server)
    attach(cluster, "h3", shop, "db1")
    cluster.wait_converged()
    session = session_for(directory_server)
    vrss = {v.name: v for v in session.user.vrss.get()}
    assert set(vrss) == set(HOSTS)
    assert {(v.address, v.status) for v in vrss.values()} == {(a, "UP") for a in HOSTS.values()}
    assert vrss["h3"].number_of_containers == 1
    [container] = vrss["h3"].containers.get()
    assert (container.name, container.status, container.hypervisor_ip) == ("db1", "RUNNING", "192.0.2.3")
    shop.vports["db1"].fetch()
    assert shop.vports["db1"].operational_state == "UP"
    # Read-only through the API.
    headers = {
        "X-Nuage-Organization": "csp",
        "Authorization": session.login_controller.get_authentication_header(),
    }
    response = requests.post(
        f"{directory_server.api}/vrss",
        json={"name": "rogue", "address": "192.0.2.99"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 405 and "maintained by the system" in response.text
    response = requests.put(
        f"{directory_server.api}/vrss/{vrss['h1'].id}", json={"status": "DOWN"}, headers=headers, timeout=10
    )
    assert response.status_code == 405


def test_an_agent_cannot_claim_another_hosts_endpoint(
    cluster: Cluster, directory_server: ServedDirectory
) -> None:
    shop = Shop(directory_server)
    attach(cluster, "h1", shop, "web1")
    with pytest.raises(AgentClientError) as failure:
        attach(cluster, "h2", shop, "web1")
    assert failure.value.status == 409 and "runs on host h1" in str(failure.value)
    with cluster.client("h2") as client, pytest.raises(AgentClientError) as failure:
        client.attach(shop.vports["web2"].id, "02:99:99:99:99:99")
    assert failure.value.status == 409 and "no interface with MAC" in str(failure.value)
    with cluster.client("h2") as client, pytest.raises(AgentClientError) as failure:
        client.attach("not-a-vport", "02:99:99:99:99:99")
    assert failure.value.status == 409
    with cluster.client("h2") as client, pytest.raises(AgentClientError) as failure:
        client.attach(shop.vports["web2"].id, "not-a-mac")
    assert failure.value.status == 400
    cluster.assert_matches_directory()
    assert cluster.call(lambda: cluster.agents["h2"].state.entries) == {}


def test_agent_and_controller_restarts_resync_without_loss(
    cluster: Cluster, directory_server: ServedDirectory
) -> None:
    shop = Shop(directory_server)
    for host, name in (("h1", "web1"), ("h2", "web2"), ("h3", "db1")):
        attach(cluster, host, shop, name)
    cluster.assert_matches_directory()

    # A session drops; policy changes meanwhile; the agent reconnects and catches up by deltas.
    agent = cluster.agents["h3"]
    snapshots = cluster.call(lambda: agent.snapshots_applied)
    cluster.drop_session("h3")
    shop.rule(shop.egress, vsdk.NUEgressACLEntryTemplate, shop.db, shop.web, "5432")
    cluster.assert_matches_directory()
    assert cluster.call(lambda: agent.snapshots_applied) == snapshots  # deltas, not a snapshot
    assert cluster.call(lambda: agent.controller) is not None

    # The agent process restarts: it holds nothing, so it gets a snapshot.
    cluster.stop_agent("h3")
    cluster.start_agent("h3")
    cluster.assert_matches_directory()
    assert cluster.call(lambda: cluster.agents["h3"].snapshots_applied) == 1
    assert reach(cluster, "h1", shop.ips["web1"], shop.ips["db1"], 3306)

    # The controller restarts: agents stay headless meanwhile (state kept), then resync.
    cluster.stop_controller()
    held = cluster.held()
    assert held["h1"]
    shop.endpoint("web3", shop.web_net, shop.web)
    cluster.start_controller()
    cluster.wait_for(lambda: all(a.controller is not None for a in cluster.agents.values()), "reconnects")
    assert cluster.held() == held  # nothing lost while headless; web3 is not running anywhere yet
    attach(cluster, "h2", shop, "web3")
    cluster.assert_matches_directory()
    assert reach(cluster, "h2", shop.ips["web3"], shop.ips["db1"], 3306)


def test_an_unexpected_failure_applying_an_update_ends_the_session_and_it_recovers(
    cluster: Cluster, directory_server: ServedDirectory
) -> None:
    shop = Shop(directory_server)
    for host, name in (("h1", "web1"), ("h3", "db1")):
        attach(cluster, host, shop, name)
    cluster.assert_matches_directory()
    agent = cluster.agents["h3"]
    dataplane = agent.dataplane
    first_session = cluster.call(lambda: agent.connected_since)
    failures: list[str] = []
    real_apply = dataplane.apply

    def apply_once_broken(change: Any) -> None:
        if not failures:
            failures.append("raised")
            raise RuntimeError("a bug in the dataplane")  # not a DataplaneError: no nack path
        real_apply(change)

    dataplane.apply = apply_once_broken  # type: ignore[method-assign]
    shop.rule(shop.egress, vsdk.NUEgressACLEntryTemplate, shop.db, shop.web, "5432")
    # The applier's failure ends the session; the next one catches up and the host converges.
    cluster.assert_matches_directory()
    assert failures == ["raised"]
    assert cluster.call(lambda: agent.connected_since) != first_session
