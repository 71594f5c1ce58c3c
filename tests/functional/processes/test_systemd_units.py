"""The systemd units shipped with the package: valid to systemd, and least privilege."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")

SERVICES = ("directory", "controller", "agent", "docker-plugin", "gateway")


def units(tmp_path: Path) -> dict[str, Path]:
    """The units as `overcast systemd-units` writes them for this installation's executable."""
    result = subprocess.run(
        [sys.executable, "-m", "overcast", "systemd-units", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = {p.stem.removeprefix("overcast-"): p for p in tmp_path.glob("overcast-*.service")}
    assert sorted(found) == sorted(SERVICES)
    return found


def settings(path: Path) -> dict[str, list[str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    values: dict[str, list[str]] = {}
    # Repeated keys (LoadCredential=) are kept by reading line by line.
    for line in path.read_text().replace("\\\n", " ").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    found = units(tmp_path)
    for path in found.values():
        assert str(Path(sys.executable).parent / "overcast") in path.read_text()
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, found.values())],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not said, said


def test_each_service_runs_with_least_privilege(tmp_path: Path) -> None:
    found = {name: settings(path) for name, path in units(tmp_path).items()}
    for name in ("directory", "controller"):  # unprivileged, a private state directory
        unit = found[name]
        assert unit["DynamicUser"] == ["yes"] and unit["CapabilityBoundingSet"] == [""]
        assert unit["StateDirectoryMode"] == ["0700"] and unit["ProtectSystem"] == ["strict"]
    gateway = found["gateway"]  # unprivileged but for the BGP port
    assert gateway["DynamicUser"] == ["yes"] and gateway["ProtectSystem"] == ["strict"]
    assert gateway["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"] == gateway["AmbientCapabilities"]
    agent = found["agent"]
    assert "User" not in agent  # root, but with two capabilities only
    assert sorted(agent["CapabilityBoundingSet"][0].split()) == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
    assert any(c.startswith("runtime.toml:") for c in agent["LoadCredential"])
    assert found["docker-plugin"]["CapabilityBoundingSet"] == [""]
    for unit in found.values():
        assert unit["NoNewPrivileges"] == ["yes"] and unit["UMask"] == ["0077"]
        assert "--insecure" not in " ".join(unit["ExecStart"])
