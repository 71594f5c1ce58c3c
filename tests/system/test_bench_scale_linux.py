"""``overcast bench scale --dataplane linux`` at a small size: real namespaces, real agents, every
endpoint answers."""

from __future__ import annotations

from pathlib import Path

from ..support.lab import needs_root

pytestmark = needs_root


def test_a_small_linux_dataplane_run_attaches_verifies_and_answers(tmp_path: Path) -> None:
    from overcast.bench.scale import run_linux

    report = run_linux(str(tmp_path / "linux.json"), hosts=2, containers=24, attach_per_host=6)
    assert report["verified"] is True and report["unreachable"] == 0
    assert report["attach_latency"]["count"] == 24
    # Every agent applied what it was sent; a burst may have been applied as fewer changes.
    for applied in report["agents_applied"].values():
        assert 0 < applied["dataplane_changes"] <= applied["updates"]
    phases = report["phases_seconds"]
    assert phases["created"] <= phases["attached"] <= phases["answered"]
