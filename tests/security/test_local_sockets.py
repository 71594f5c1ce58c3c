"""The local sockets that drive the root agent are root's alone, from their first instant
(issue 15, findings 1 and 4): the Docker plugin's was 0666, the agent's 0666 until a chmod."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.testing.ports import free_port
from overcast.unix_socket import bind_private

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs a service as root and a client as nobody")


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory anyone may traverse (pytest's own tmp is 0700: it would hide the socket's mode)."""
    path = Path(tempfile.mkdtemp(prefix="ovc-sock-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def first_mode_seen(path: Path, started: threading.Event, timeout: float = 30.0) -> int | None:
    """Spin on ``path`` and return the mode it had when first seen (the start-up race)."""
    deadline = time.monotonic() + timeout
    started.set()
    while time.monotonic() < deadline:
        try:
            return stat.S_IMODE(os.lstat(path).st_mode)
        except FileNotFoundError:
            continue
    return None


def nobody_connects(path: Path) -> subprocess.CompletedProcess[str]:
    probe = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(path)!r}); print('connected')"
    return subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", probe],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def served(argv: list[str], path: Path) -> tuple[int | None, subprocess.CompletedProcess[str]]:
    """Start a service, watch its socket appear, and try it as nobody; stop the service."""
    result: list[int | None] = []
    started = threading.Event()
    watcher = threading.Thread(target=lambda: result.append(first_mode_seen(path, started)))
    watcher.start()
    started.wait()
    process = subprocess.Popen([sys.executable, "-m", "overcast", *argv],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        watcher.join(timeout=40)
        assert result and result[0] is not None, "the socket never appeared"
        for _ in range(100):  # serving: root connects
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(path))
                break
            except OSError:
                time.sleep(0.1)
        return result[0], nobody_connects(path)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_the_docker_plugin_socket_is_private_from_its_first_instant(public_dir: Path) -> None:
    path = public_dir / "overcast.sock"
    first, nobody = served(
        ["docker-plugin", "--socket", str(path), "--agent-socket", str(public_dir / "agent.sock"),
         "--state-dir", str(public_dir / "state")], path,
    )  # fmt: skip
    assert first == 0o600
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr
    assert stat.S_IMODE(os.stat(public_dir / "state").st_mode) == 0o700


def test_the_agent_socket_is_private_from_its_first_instant(public_dir: Path) -> None:
    path = public_dir / "agent.sock"
    first, nobody = served(
        ["agent", "--insecure", "--controller", f"127.0.0.1:{free_port()}", "--host-id", "sockettest",
         "--underlay-ip", "192.0.2.99", "--socket", str(path)], path,
    )  # fmt: skip
    assert first == 0o600
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr


def test_bind_private_replaces_a_stale_socket_and_leaves_no_staging(public_dir: Path) -> None:
    path = public_dir / "s.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    os.chmod(path, 0o666)
    listening = bind_private(path)
    try:
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
        assert sorted(p.name for p in public_dir.iterdir()) == ["s.sock"]
    finally:
        listening.close()
