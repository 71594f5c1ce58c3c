"""Secure by default (issue 15, finding 10): plaintext gRPC only when asked for by name, and
runtime credentials only from a file no one else can read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from overcast.agent.credentials import RuntimeCredentials


def overcast(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "overcast", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_the_controller_refuses_plaintext_unless_insecure(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'd.db'}"
    refused = overcast("controller", "--database", database, "--listen", "127.0.0.1:0")
    assert refused.returncode == 2 and "--insecure" in refused.stderr and "--tls-cert" in refused.stderr


def test_the_agent_refuses_plaintext_unless_insecure(tmp_path: Path) -> None:
    refused = overcast("agent", "--controller", "127.0.0.1:1", "--host-id", "h", "--underlay-ip", "192.0.2.1",
                       "--socket", str(tmp_path / "a.sock"))  # fmt: skip
    assert refused.returncode == 2 and "--insecure" in refused.stderr and "--tls-ca" in refused.stderr


def test_credentials_others_can_read_are_refused(tmp_path: Path) -> None:
    path = RuntimeCredentials("acme", "cni", "secret").write(tmp_path / "credentials.toml")
    agent = ["--controller", "127.0.0.1:1", "--host-id", "h", "--underlay-ip", "192.0.2.1",
             "--socket", str(tmp_path / "a.sock")]  # fmt: skip
    assert RuntimeCredentials.load(path).password == "secret"
    os.chmod(path, 0o644)
    refused = overcast("agent", "--insecure", "--credentials", str(path), *agent)
    assert refused.returncode == 2 and "readable by others" in refused.stderr
    os.chmod(path, 0o600)
    path.write_text('organization = "acme"\nuser = "cni"\n')
    refused = overcast("agent", "--insecure", "--credentials", str(path), *agent)
    assert refused.returncode == 2 and "needs password" in refused.stderr
