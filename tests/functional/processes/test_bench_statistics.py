"""``overcast bench statistics`` runs end to end on a small size and writes its figures: every
object moving is one row per flush (200 vports, 4 subnets, 1 zone, 1 domain, 40 hosts, 70
entries), and after 70 simulated minutes the 5-minute and 1-hour roll-ups exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_statistics_small(tmp_path: Path) -> None:
    output = tmp_path / "statistics.json"
    result = subprocess.run(
        [sys.executable, "-m", "overcast", "bench", "statistics", "--endpoints", "200", "--entries", "70",
         "--minutes", "70", "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(output.read_text())
    objects = 200 + 4 + 1 + 1 + 40 + 70
    assert report["rows_per_flush"] == objects
    stored = report["rows_stored_after_run"]
    assert stored["10"] == objects * 360  # an hour kept, older pruned
    assert stored["300"] >= objects * 12 and stored["3600"] == objects
    assert report["bytes_per_row"] > 0 and report["flush"]["count"] == 70 * 6
