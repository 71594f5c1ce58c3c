"""``overcast app`` against a served directory: apply a YAML file (twice: the second changes
nothing), change it (the deployment follows), show it, refuse a bad file naming the line,
delete it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from overcast.client.vsd import VsdClient
from overcast.testing.builders import make_l3_subnet
from overcast.testing.directory import ServedDirectory

ROOT = Path(__file__).resolve().parents[3]


def app_cli(served: ServedDirectory, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "overcast",
            "app",
            *args,
            "--url",
            served.url,
            "--user",
            "csproot",
            "--password",
            "csproot",
            "--org",
            "csp",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def applied(served: ServedDirectory, path: Path) -> dict[str, Any]:
    result = app_cli(served, "apply", str(path), "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    return dict(json.loads(result.stdout))


def test_apply_show_change_delete(sqlite_server: ServedDirectory, tmp_path: Path) -> None:
    client = VsdClient(sqlite_server.url)
    client.login()
    make_l3_subnet(client, "acme", domain="shop", address="10.99.0.0")
    source = (ROOT / "examples" / "wordpress.yaml").read_text()
    path = tmp_path / "wordpress.yaml"
    path.write_text(source)

    first = applied(sqlite_server, path)
    assert "application wordpress" in first["created"] and first["application"]["generatedObjects"] > 0
    again = applied(sqlite_server, path)
    assert (again["created"], again["updated"], again["deleted"]) == ([], [], [])

    shown = app_cli(sqlite_server, "show", "wordpress", "-e", "acme", "--json")
    data = json.loads(shown.stdout)
    assert {t["name"]: t["deployedAs"] for t in data["tiers"]} == {
        "clients": "enterprisenetwork",
        "web": "subnet",
        "app": "subnet",
        "db": "subnet",
    }
    assert sorted(data["generated"]["subnets"]) == [
        "wordpress - app 10.20.0.0/255.255.255.0",
        "wordpress - db 10.20.2.0/255.255.255.0",
        "wordpress - web 10.20.1.0/255.255.255.0",
    ]
    assert [f["services"] for f in data["flows"]][2] == [{"action": "FORWARD", "service": "mysql"}]

    # The database moves to tcp/5432 and the PHP tier loses its flow to it.
    changed = source.replace("tcp/3306", "tcp/5432").replace(
        "  - {from: app, to: db, services: [mysql]}\n", ""
    )
    path.write_text(changed)
    result = applied(sqlite_server, path)
    assert result["deleted"] == ["flow app-to-db"] and result["updated"] == ["service mysql"]
    entries = json.loads(
        app_cli(sqlite_server, "show", "wordpress", "-e", "acme", "--json").stdout
    )
    assert len(entries["flows"]) == 2 and entries["generated"]["egress entries"][-1].startswith(
        "200 FORWARD"
    )

    path.write_text(changed.replace("{macro: 0.0.0.0/0}", "{macro: 0.0.0.0/33}"))
    bad = app_cli(sqlite_server, "apply", str(path))
    assert bad.returncode == 2 and "line 14" in bad.stderr and "IPv4 network" in bad.stderr, bad.stderr

    missing = app_cli(sqlite_server, "show", "nothing", "-e", "acme")
    assert missing.returncode == 1 and "no application" in missing.stderr
    gone = app_cli(sqlite_server, "delete", "wordpress", "-e", "acme")
    assert gone.returncode == 0, gone.stderr
    assert client.list_all("appdapplications") == []
    assert not [z for z in client.list_all("zones") if z["name"] == "wordpress"]
