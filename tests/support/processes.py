"""Directory, controller and agents as separate processes (``python -m overcast …``), driven by
the REST API and the ``overcast agent`` CLI: what the process-level tests share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from overcast.agent.credentials import CSPROOT
from overcast.client.vsd import VsdClient
from overcast.directory.db import Store
from overcast.directory.service import Directory
from overcast.lab import Lab
from overcast.protocol.codec import digest_of
from overcast.testing.cluster import expected_host_entries
from overcast.testing.ports import free_port
from overcast.testing.processes import Service, logged_in


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "overcast", *args], capture_output=True, text=True, timeout=60
    )


def cli_ok(*args: str) -> Any:
    """``overcast ARGS`` that must succeed: its JSON output parsed (or its text)."""
    result = cli(*args)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout) if result.stdout.startswith(("{", "[")) else result.stdout


def endpoint(client: VsdClient, subnet_id: str, name: str, groups: tuple[str, ...] = ()) -> tuple[str, str]:
    """A container's vport (in ``groups``) and the container naming it, as an orchestrator
    creates them before the runtime starts it; returns (vport ID, MAC)."""
    vport = client.create(
        f"subnets/{subnet_id}/vports", {"name": name, "type": "CONTAINER", "addressSpoofing": "INHERITED"}
    )
    if groups:
        client.assign(f"vports/{vport['ID']}/policygroups", list(groups))
    mac = "02:" + ":".join(f"{byte:02x}" for byte in os.urandom(5))
    client.create("containers", {"name": name, "UUID": str(uuid.uuid4()),
                                 "interfaces": [{"MAC": mac, "VPortID": vport["ID"]}]})  # fmt: skip
    return vport["ID"], mac


class ProcessSystem:
    """A directory (SQLite in ``tmp``), a controller and one agent per host, each its own
    process. ``hosts``: short name -> underlay address. With a ``lab``, the agents program the
    Linux dataplane in a namespace per host (host IDs then carry the lab's tag, so the lab
    removes what they made); without, the in-memory one."""

    def __init__(
        self,
        tmp: Path,
        hosts: dict[str, str],
        *,
        lab: Lab | None = None,
        controller_args: tuple[str, ...] = (),
        agent_args: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.tmp, self.hosts, self.lab = tmp, hosts, lab
        self.controller_args = controller_args
        self.agent_args = agent_args or {}
        self.database = f"sqlite:///{tmp / 'directory.db'}"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.controller_address = f"127.0.0.1:{free_port()}"
        self.credentials = str(CSPROOT.write(tmp / "credentials.toml"))
        self.host_netns = {short: lab.host(short, address) for short, address in hosts.items()} if lab else {}
        self.agents: dict[str, Service] = {}
        self.store = Store(self.database)
        self.directory = Service(
            ["directory", "--listen", self.url.removeprefix("http://"), "--database", self.database],
            tmp / "directory.log",
        )
        try:
            self.directory.wait_until(logged_in(self.url), "the directory")  # the store is migrated
        except BaseException:
            self.directory.stop()
            self.store.dispose()
            raise
        self.controller = self.start_controller()
        try:
            for short in hosts:
                self.agents[short] = self.start_agent(short)
        except BaseException:
            self.close()
            raise

    def host_id(self, short: str) -> str:
        return f"{self.lab.tag}{short}" if self.lab else short

    def client(self) -> VsdClient:
        client = VsdClient(self.url)
        client.login()
        return client

    def start_controller(self) -> Service:
        return Service(
            ["controller", "--database", self.database, "--listen", self.controller_address, "--insecure",
             *self.controller_args],
            self.tmp / "controller.log",
        )  # fmt: skip

    def start_agent(self, short: str) -> Service:
        """The host's agent, returned once its session is up."""
        dataplane = ["--dataplane", "linux", "--host-netns", self.host_netns[short]] if self.lab else []
        agent = Service(
            ["agent", "--insecure", "--credentials", self.credentials,
             "--controller", self.controller_address,
             "--host-id", self.host_id(short), "--underlay-ip", self.hosts[short], *dataplane,
             *self.agent_args.get(short, ()),
             "--socket", str(self.socket(short))],
            self.tmp / f"agent-{short}.log",
        )  # fmt: skip
        agent.wait_until(lambda: self.state(short)["session"]["connected"], f"agent {short} to connect")
        return agent

    def restart_agent(self, short: str) -> None:
        """Start the host's agent again (after a stop or a kill) and wait for its first sync."""
        self.agents[short] = self.start_agent(short)
        self.agents[short].wait_until(
            lambda: self.state(short)["applied_revision"] > 0, f"agent {short} to sync"
        )

    def operator_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``overcast ARGS`` as the operator, against this system's directory and controller."""
        return cli(*args, "--controller", self.controller_address, "--url", self.url,
                   "--user", "csproot", "--password", "csproot", "--org", "csp")  # fmt: skip

    def socket(self, short: str) -> Path:
        return self.tmp / f"{short}.sock"

    def state(self, short: str) -> dict[str, Any]:
        return dict(cli_ok("agent", "state", "--json", "--socket", str(self.socket(short))))

    def attach(self, short: str, vport: str, mac: str, netns: str | None = None) -> dict[str, Any]:
        """``overcast agent attach`` on the host (into ``netns``, a container of the lab)."""
        where = ["--netns", netns] if netns else []
        return dict(cli_ok("agent", "attach", "--vport", vport, "--mac", mac, *where,
                           "--socket", str(self.socket(short))))  # fmt: skip

    def wait_matching(self, timeout: float = 30.0) -> None:
        """Every agent's digest equals the digest of a fresh compile for its host."""
        deadline = time.monotonic() + timeout
        while True:
            expected = expected_host_entries(Directory(self.store))
            want = {s: f"{digest_of(expected.get(self.host_id(s), {}).items()):016x}" for s in self.agents}
            have = {s: self.state(s)["digest"] for s in self.agents}
            if want == have:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"agents {have} != fresh compile {want}\n{self.controller.output()}")
            time.sleep(0.2)

    def close(self) -> None:
        for service in [*self.agents.values(), self.controller, self.directory]:
            if service.process.returncode is None:
                service.stop()
        self.store.dispose()


def web_and_db(system: ProcessSystem, lab: Lab, address: str) -> dict[str, Any]:
    """acme's domain on ``address``/24 with policy groups web and db, an ingress policy that
    allows by default and an empty egress policy (so db's egress entries decide), and two
    containers attached: web1 (group web) on h1, db1 (group db) on h2. Returns the IDs, the
    containers' namespaces and addresses, and the client."""
    from overcast.testing.builders import make_l3_subnet

    client = system.client()
    net = make_l3_subnet(client, "acme", address=address)
    domain, subnet = net["domain"]["ID"], net["subnet"]["ID"]
    groups = {
        name: client.create(f"domains/{domain}/policygroups", {"name": name})["ID"] for name in ("web", "db")
    }
    client.create(
        f"domains/{domain}/ingressacltemplates", {"name": "in", "active": True, "defaultAllowIP": True}
    )
    egress = client.create(f"domains/{domain}/egressacltemplates", {"name": "out", "active": True})["ID"]
    netns, ips, vports = {}, {}, {}
    for name, host, group in (("web1", "h1", "web"), ("db1", "h2", "db")):
        vport, mac = endpoint(client, subnet, name, (groups[group],))
        vports[name] = vport
        netns[name] = lab.container(name)
        ips[name] = system.attach(host, vport, mac, netns[name])["ip"]
    return {
        "client": client,
        "domain": domain,
        "subnet": subnet,
        "web": groups["web"],
        "db": groups["db"],
        "egress": egress,
        "netns": netns,
        "ips": ips,
        "vports": vports,
    }
