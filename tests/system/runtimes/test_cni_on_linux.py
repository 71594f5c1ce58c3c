"""overcast-cni driven the way libcni drives a plugin (ADD / CHECK / DEL with the CNI
environment and the network configuration on stdin) against container namespaces on two
simulated hosts, with the real directory, controller and agents (root)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from overcast.client.vsd import VsdClient
from overcast.demo import deploy_tenant
from overcast.demo.application import NEIGHBOUR, WORDPRESS
from overcast.lab import Lab, can_run, sh
from overcast.testing.system import running_system

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")]


@dataclass
class Cluster:
    lab: Lab
    client: VsdClient
    sockets: dict[str, Path]  # host -> agent socket

    def conf(self, host: str, tenant: str = "acme", tier: str = "web", **extra: Any) -> dict[str, Any]:
        return {
            "cniVersion": "1.0.0",
            "name": f"{tenant}-{tier}",
            "type": "overcast-cni",
            "enterprise": tenant,
            "domain": "wordpress",
            "zone": tier,
            "subnet": tier,
            "policyGroups": [tier],
            "agentSocket": str(self.sockets[host]),
            **extra,
        }


def cni(
    command: str,
    conf: dict[str, Any],
    container: str,
    netns: str,
    ifname: str = "eth0",
    args: str = "IgnoreUnknown=1",
) -> tuple[int, dict[str, Any] | None]:
    """What libcni does: the plugin executable, CNI_* in the environment, the config on stdin."""
    env = {
        **os.environ,
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_ARGS": args,
        "CNI_PATH": str(Path(sys.executable).parent),
    }
    plugin = Path(sys.executable).with_name("overcast-cni")
    result = subprocess.run(
        [str(plugin)], input=json.dumps(conf), capture_output=True, text=True, env=env, timeout=90
    )
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_system(tmp_path_factory.mktemp("cni")) as system:
        deploy_tenant(system.client, WORDPRESS)
        deploy_tenant(system.client, NEIGHBOUR)
        yield Cluster(system.lab, system.client, system.sockets)


def vport_count(cluster: Cluster) -> int:
    domains = [
        d
        for e in cluster.client.list_all("enterprises")
        for d in cluster.client.list_all(f"enterprises/{e['ID']}/domains")
    ]
    return sum(cluster.client.count(f"domains/{d['ID']}/vports") for d in domains)


def containers_named(cluster: Cluster, uuid: str) -> list[dict[str, Any]]:
    return cluster.client.list_all("containers", filter=f'UUID == "{uuid}"')


def test_add_check_del_across_hosts_with_policy(cluster: Cluster) -> None:
    lab = cluster.lab
    web, app = lab.container("cni-web"), lab.container("cni-app")
    status, web_result = cni(
        "ADD",
        cluster.conf("h1", tier="web"),
        "ctr-web",
        f"/run/netns/{web}",
        args="IgnoreUnknown=1;K8S_POD_NAME=web-a",
    )
    assert status == 0, web_result
    assert web_result is not None
    status, app_result = cni("ADD", cluster.conf("h2", tier="app"), "ctr-app", f"/run/netns/{app}")
    assert status == 0, app_result
    assert app_result is not None
    web_ip = web_result["ips"][0]["address"].split("/")[0]
    app_ip = app_result["ips"][0]["address"].split("/")[0]
    assert web_result["ips"][0]["gateway"] == "10.10.1.1" and web_result["interfaces"][0]["sandbox"].endswith(
        web
    )
    # The interface really is there, as the result says.
    shown = sh("ip", "-n", web, "-j", "addr", "show", "eth0").stdout
    assert web_ip in shown and web_result["interfaces"][0]["mac"] in shown
    # The directory holds it: a container named by K8S_POD_NAME, bound to h1, in policy group web.
    (container,) = containers_named(cluster, "ctr-web/eth0")
    assert container["name"] == "web-a" and container["status"] == "RUNNING"
    # Policy: web -> app tcp/8080 allowed, app -> web tcp/80 denied.
    lab.listen(app, "tcp", 8080)
    lab.listen(web, "tcp", 80)
    assert lab.connects(web, "tcp", app_ip, 8080)
    assert not lab.connects(app, "tcp", web_ip, 80)
    assert (
        cni("CHECK", {**cluster.conf("h1"), "prevResult": web_result}, "ctr-web", f"/run/netns/{web}")[0] == 0
    )

    # DEL: gone from the directory and from the datapath; idempotent; the address is released.
    assert cni("DEL", {**cluster.conf("h1"), "prevResult": web_result}, "ctr-web", f"/run/netns/{web}") == (
        0,
        None,
    )
    assert containers_named(cluster, "ctr-web/eth0") == []
    assert "eth0" not in sh("ip", "-n", web, "-br", "link").stdout
    assert cni("DEL", cluster.conf("h1"), "ctr-web", f"/run/netns/{web}") == (0, None)  # again
    assert cni("DEL", cluster.conf("h1"), "never-added", "") == (0, None)  # unknown, empty netns
    check = cni("CHECK", {**cluster.conf("h1"), "prevResult": web_result}, "ctr-web", f"/run/netns/{web}")
    assert check[0] == 1
    again, readd = lab.container("cni-web2"), None
    status, readd = cni("ADD", cluster.conf("h1", tier="web"), "ctr-web2", f"/run/netns/{again}")
    assert status == 0 and readd is not None and readd["ips"][0]["address"].split("/")[0] == web_ip
    assert cni("DEL", cluster.conf("h1"), "ctr-web2", f"/run/netns/{again}")[0] == 0
    assert cni("DEL", cluster.conf("h2", tier="app"), "ctr-app", f"/run/netns/{app}")[0] == 0


def test_a_failed_add_leaves_nothing_behind(cluster: Cluster) -> None:
    lab = cluster.lab
    netns = lab.container("cni-bad")
    vports_before = vport_count(cluster)
    status, error = cni(
        "ADD",
        cluster.conf("h1", tier="web", policyGroups=["no-such-group"]),
        "ctr-bad",
        f"/run/netns/{netns}",
    )
    assert status == 1 and error is not None and error["code"] == 100 and "no-such-group" in error["msg"]
    status, error = cni("ADD", {**cluster.conf("h1"), "zone": "nope"}, "ctr-bad", f"/run/netns/{netns}")
    assert status == 1 and error is not None and "no zone named 'nope'" in error["msg"]
    # A namespace that does not exist: the directory had it for a moment, and no longer does.
    status, error = cni("ADD", cluster.conf("h1"), "ctr-bad", "/run/netns/does-not-exist")
    assert status == 1 and error is not None
    assert vport_count(cluster) == vports_before
    assert containers_named(cluster, "ctr-bad/eth0") == []
    assert "eth0" not in sh("ip", "-n", netns, "-br", "link").stdout
    assert cni("DEL", cluster.conf("h1"), "ctr-bad", f"/run/netns/{netns}") == (
        0,
        None,
    )  # DEL after a failed ADD


def test_tenants_on_the_same_addresses_stay_apart(cluster: Cluster) -> None:
    lab = cluster.lab
    acme, globex = lab.container("cni-acme"), lab.container("cni-globex")
    status, mine = cni("ADD", cluster.conf("h1", tier="db"), "ctr-acme-db", f"/run/netns/{acme}")
    assert status == 0 and mine is not None
    status, theirs = cni(
        "ADD", cluster.conf("h2", tenant="globex", tier="web"), "ctr-globex-web", f"/run/netns/{globex}"
    )
    assert status == 0 and theirs is not None
    lab.listen(acme, "tcp", 3306)
    assert not lab.connects(globex, "tcp", mine["ips"][0]["address"].split("/")[0], 3306)
    assert cni("DEL", cluster.conf("h1", tier="db"), "ctr-acme-db", f"/run/netns/{acme}")[0] == 0
    assert cni("DEL", cluster.conf("h2", tenant="globex", tier="web"), "ctr-globex-web", "")[0] == 0
