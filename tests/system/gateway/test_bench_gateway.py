"""``overcast bench gateway`` runs, small, and writes figures that hold together."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("gobgpd") and Path("/usr/lib/frr/bgpd").exists()), reason="needs gobgpd and FRR"
    ),  # fmt: skip
]


def test_bench_gateway_small(tmp_path: Path, lab: object) -> None:  # lab: root and tools, checked
    output = tmp_path / "gateway.json"
    result = subprocess.run(
        [sys.executable, "-m", "overcast", "bench", "gateway", "--samples", "3", "--fips", "20",
         "--iperf-seconds", "1", "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(output.read_text())
    assert report["assign_to_fib"]["count"] == 3 and report["withdraw_from_fib"]["count"] == 3
    assert report["bulk"]["floating_ips"] == 20 and report["bulk"]["all_in_fib_seconds"] > 0
    assert report["failover"]["route_kept"] is True  # the other gateway's path stayed
    through = report["throughput"]  # one-second runs: traffic flows on both paths
    assert through["through_nat"]["gbit_per_s_median"] > 0 and through["routed"]["gbit_per_s_median"] > 0
