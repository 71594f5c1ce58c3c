"""``overcast bench scale`` at a small size: the harness runs end to end and its verification
(every agent's digest against a fresh compile) holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overcast.bench.scale import run

pytestmark = pytest.mark.slow


def test_a_small_scale_run_converges_and_verifies(tmp_path: Path) -> None:
    report = run(
        str(tmp_path / "scale.json"), hosts=3, containers=90, samples=3, chart=None, agent_processes=1
    )
    assert report["verified"] is True and report["hosts_in_sync"] == 3
    assert report["acl_entries"] == 700 and report["acl_entries_expanded"] == 90 * 7
    assert report["phases_seconds"]["created"] <= report["total_seconds"]
    assert report["steady_add_p99_ms"] is not None
    written = json.loads((tmp_path / "scale.json").read_text())
    for key in (
        "total_seconds",
        "containers",
        "hosts",
        "acl_entries_expanded",
        "containers_per_second",
        "steady_add_p50_ms",
        "steady_add_p99_ms",
        "controller_rss_mb",
        "verified",
    ):
        assert key in written
