"""The main job: ``overcast demo`` end to end (root), and the ``overcast`` CLI client against the
demo it leaves running with ``--keep``; ``--down`` leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.lab import can_run
from overcast.testing.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not can_run(), reason="needs root, iproute2 and nftables")]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "overcast", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )  # fmt: skip


def leftovers(record: dict[str, Any]) -> tuple[list[str], list[int]]:
    namespaces = [n for n in os.listdir("/run/netns") if "ovdemo" in n] if os.path.isdir("/run/netns") else []
    return namespaces, [pid for pid in record.get("pids", []) if running(pid)]


def running(pid: int) -> bool:
    """Alive and not a zombie (a kept demo's services are reparented; PID 1 may reap late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_the_demo_proves_its_policy_and_cleans_up(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    listen, controller = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    result = run("demo", "--state-dir", str(state), "--listen", listen, "--controller", controller)
    assert result.returncode == 0, result.stdout + result.stderr
    printed = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert "all 31 probes match the policy (11 allowed, 20 denied)" in printed
    assert "a change adding a flow web → db was refused: Compliance policy 'PCI cardholder data'" in printed
    assert not state.exists()
    assert leftovers({}) == ([], [])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("kept") / "demo"
    listen, controller = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    record: dict[str, Any] = {}
    try:
        result = run(
            "demo", "--keep", "--state-dir", str(state), "--listen", listen, "--controller", controller
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "overcast demo --down" in result.stdout + result.stderr
        # policy verify's summary: sampled flows proven against packets and counters.
        output = result.stdout + result.stderr
        assert "30 sampled flows: 30 agree with the model, 0 disagree" in output, output
        record = json.loads((state / "demo.json").read_text())
        yield {"OVERCAST_URL": f"http://{listen}", "OVERCAST_CONTROLLER": controller, "STATE": str(state)}
    finally:
        down = run("demo", "--down", "--state-dir", str(state))
        assert down.returncode == 0, down.stdout + down.stderr
        assert leftovers(record) == ([], [])
        assert not state.exists()


def cli(demo: dict[str, str], *args: str, ok: bool = True) -> Any:
    result = run(*args, env={k: v for k, v in demo.items() if k.startswith("OVERCAST_")})
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    if "--json" in args:
        return json.loads(result.stdout)
    return result.stdout + result.stderr


def test_kept_demo_keeps_running(demo: dict[str, str]) -> None:
    record = json.loads((Path(demo["STATE"]) / "demo.json").read_text())
    namespaces, alive = leftovers(record)
    assert len(alive) == len(record["pids"]) and len(namespaces) >= 3 + 1 + 7  # hosts, underlay, containers


def test_list_show_and_topology(demo: dict[str, str]) -> None:
    enterprises = cli(demo, "list", "enterprises", "--json")
    assert {"acme", "globex"} <= {e["name"] for e in enterprises}
    acme = next(e for e in enterprises if e["name"] == "acme")
    assert cli(demo, "show", "enterprise", acme["ID"], "--json")["name"] == "acme"
    assert "acme" in cli(demo, "list", "enterprises")  # the table
    tree = cli(demo, "topology", "--enterprise", "acme", "--json")
    containers = [
        c
        for d in tree["enterprises"][0]["domains"]
        for z in d["zones"]
        for s in z["subnets"]
        for v in s["vports"]
        for c in v["containers"]
    ]
    assert {c["name"] for c in containers} == {
        f"acme-{n}" for n in ("client1", "web1", "web2", "app1", "db1")
    }
    assert all(c["host"].startswith("ovdemo-h") and c["status"] == "RUNNING" for c in containers)
    # acme's site was designed with the application designer: one zone, a subnet per tier.
    (zone,) = tree["enterprises"][0]["domains"][0]["zones"]
    assert zone["name"] == "wordpress"
    tiers = ("app", "clients", "db", "web")
    assert sorted(s["name"] for s in zone["subnets"]) == [f"wordpress - {t}" for t in tiers]
    (pci,) = cli(demo, "policy", "check", "PCI cardholder data", "--json")
    assert pci["mode"] == "ENFORCE" and pci["violations"] == []
    app = cli(demo, "app", "show", "wordpress", "-e", "acme", "--json")
    assert {t["name"]: t["deployedAs"] for t in app["tiers"]}["internet"] == "enterprisenetwork"
    entries = len(app["generated"]["ingress entries"]) + len(app["generated"]["egress entries"])
    assert len(app["flows"]) == 5 and app["generatedObjects"] == entries + 12  # + zone, 4 subnets, macro,
    # 4 templates, the 2 drops


def test_create_update_delete_and_clear_errors(demo: dict[str, str]) -> None:
    acme = next(e for e in cli(demo, "list", "enterprises", "--json") if e["name"] == "acme")
    domain = cli(demo, "list", "domains", "--parent", f"enterprises/{acme['ID']}", "--json")[0]
    zone = cli(demo, "create", "zone", "name=extra", "--parent", f"domains/{domain['ID']}", "--json")
    updated = cli(demo, "update", "zone", zone["ID"], 'description="added by the CLI"', "--json")
    assert updated["description"] == "added by the CLI"
    cli(demo, "delete", "zone", zone["ID"])
    missing = cli(demo, "show", "zone", zone["ID"], ok=False)
    assert "Cannot find" in missing and "Traceback" not in missing
    duplicate = cli(demo, "create", "enterprise", "name=acme", ok=False)
    assert "HTTP 409" in duplicate and "Traceback" not in duplicate
    assert "unknown kind" in cli(demo, "list", "nonsense", ok=False)


def test_status_and_policy_explain(demo: dict[str, str]) -> None:
    status = cli(demo, "status", "--json")
    assert status["converged"] and sorted(h["host"] for h in status["hosts"]) == [
        f"ovdemo-h{i}" for i in (1, 2, 3)
    ]
    allowed = cli(demo, "policy", "explain", "acme-web1", "acme-app1", "tcp/8080", "--json")
    assert allowed["allowed"] and "wordpress - web-to-app - tcp-8080" in allowed["ingress"]["entry"]
    assert allowed["ingress"]["host"] == "ovdemo-h1" and allowed["egress"]["host"] == "ovdemo-h3"
    denied = cli(demo, "policy", "explain", "acme-web1", "acme-db1", "tcp/3306", "--json")
    assert not denied["allowed"] and "Drop all traffic: wordpress" in denied["ingress"]["entry"]
    apart = cli(demo, "policy", "explain", "globex-web1", "acme-db1", "tcp/3306", "--json")
    assert not apart["allowed"] and "different domains" in apart["reason"]
    ambiguous = cli(demo, "policy", "explain", "10.10.1.2", "10.10.3.2", "tcp/3306", ok=False)
    assert "ambiguous" in ambiguous
    by_ip = cli(
        demo, "policy", "explain", "10.10.1.2", "10.10.3.2", "tcp/3306", "--enterprise", "globex", "--json"
    )
    assert by_ip["allowed"] and by_ip["source"] == "globex-web1"


def test_settings_from_a_config_file(demo: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "cli.toml"
    config.write_text(
        f'url = "{demo["OVERCAST_URL"]}"\nuser = "csproot"\npassword = "csproot"\norg = "csp"\n'
    )
    result = run("list", "enterprises", "--json", env={"OVERCAST_CONFIG": str(config)})
    assert result.returncode == 0 and "globex" in result.stdout
    wrong = run("list", "enterprises", env={"OVERCAST_CONFIG": str(config), "OVERCAST_PASSWORD": "nope"})
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
