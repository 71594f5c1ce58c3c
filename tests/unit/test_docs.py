"""The generated parts of docs/ match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_api_coverage_table_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_api_coverage.py"), "--check"], capture_output=True
    )
    assert result.returncode == 0, "docs/api.md is stale: run python scripts/gen_api_coverage.py"


def test_docs_pages_exist_and_readme_links_them() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in ("architecture.md", "operations.md", "api.md", "protocol.md", "performance.md"):
        assert (ROOT / "docs" / page).exists()
        assert f"docs/{page}" in readme
