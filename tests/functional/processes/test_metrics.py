"""Every service's Prometheus metrics, scraped by the real Prometheus server (Debian's,
started here on a free port with its own storage): the directory's /metrics on its API port,
the controller's and an agent's on --metrics-listen; values queried back through Prometheus's
HTTP API agree with what the system did."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from overcast.testing.builders import make_l3_subnet
from overcast.testing.ports import free_port

from ...support.processes import ProcessSystem, cli, endpoint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("prometheus"), reason="needs prometheus (Debian package)"),
]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return str(response.read().decode())


def query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?query={urllib.parse.quote(expression)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def test_prometheus_scrapes_every_service(tmp_path: Path) -> None:
    controller_metrics, agent_metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    system = ProcessSystem(
        tmp_path,
        {"h1": "192.0.2.1"},
        controller_args=("--metrics-listen", controller_metrics),
        agent_args={"h1": ("--metrics-listen", agent_metrics)},
    )
    prometheus_port = free_port()
    config = tmp_path / "prometheus.yml"
    targets = {
        "directory": system.url.removeprefix("http://"),
        "controller": controller_metrics,
        "agent": agent_metrics,
    }
    config.write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        + "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in targets.items()
        )
    )
    prometheus = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    server = f"http://127.0.0.1:{prometheus_port}"
    try:
        client = system.client()
        net = make_l3_subnet(client, "acme")
        vport, mac = endpoint(client, net["subnet"]["ID"], "web1")
        system.attach("h1", vport, mac)
        system.wait_matching()
        applied = system.state("h1")["applied_revision"]

        # Each service answers in Prometheus's text format.
        directory_text = scrape(f"{system.url}/metrics")
        assert (
            'overcast_directory_request_duration_seconds_count{method="POST",route="/nuage/api/v6/'
            in directory_text
        )
        assert "overcast_directory_transaction_duration_seconds_bucket" in directory_text
        assert "overcast_controller_hosts" in scrape(f"http://{controller_metrics}/metrics")
        assert "overcast_agent_applied_revision" in scrape(f"http://{agent_metrics}/metrics")

        # And Prometheus itself scraped them: values queried back.
        deadline = time.monotonic() + 60
        while True:
            up = {r["metric"]["job"]: r["value"][1] for r in query(server, "up")} if _ready(server) else {}
            revision = query(server, "overcast_agent_applied_revision") if up else []
            if up == dict.fromkeys(targets, "1") and revision and int(revision[0]["value"][1]) >= applied:
                break
            assert time.monotonic() < deadline, f"Prometheus saw {up}, {revision}"
            time.sleep(0.5)
        (in_sync,) = query(server, 'overcast_controller_hosts{state="in_sync"}')
        assert in_sync["value"][1] == "1"
        writes = query(
            server, 'sum(overcast_directory_transaction_duration_seconds_count{outcome="committed"})'
        )
        assert float(writes[0]["value"][1]) >= 5  # enterprise, template, domain, zone, subnet, vport…
        (lag,) = query(server, "overcast_controller_changelog_lag")
        assert lag["value"][1] == "0"
        # A bad --metrics-listen fails at start.
        bad = cli("controller", "--metrics-listen", "nowhere", "--database", "sqlite://")
        assert bad.returncode == 2 and "HOST:PORT" in bad.stderr + bad.stdout
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=15)
        system.close()


def _ready(server: str) -> bool:
    try:
        with urllib.request.urlopen(f"{server}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
