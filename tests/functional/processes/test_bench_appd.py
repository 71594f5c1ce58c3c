"""``overcast bench appd`` runs end to end on a small size and writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_appd_small(tmp_path: Path) -> None:
    output = tmp_path / "appd.json"
    result = subprocess.run(
        [sys.executable, "-m", "overcast", "bench", "appd", "--instances", "3", "--populated", "2",
         "--writes", "5", "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(output.read_text())
    assert report["instances"]["count"] == 3 and report["instances"]["objects_deployed"] == 3 * 16
    assert report["admission"]["endpoints"] == 12
    assert report["admission"]["with_enforce_policies"]["count"] == 5
    assert not output.with_suffix(".db").exists()
