"""`overcast directory` as a real process: flags, first-start bootstrap, TLS, and the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vspk import v6 as vsdk

from overcast.client.vsd import VsdClient, VsdClientError
from overcast.testing.ports import free_port

pytestmark = pytest.mark.slow


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "overcast", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(url: str, password: str, process: subprocess.Popen[bytes]) -> VsdClient:
    deadline = time.monotonic() + 30
    while True:
        try:
            client = VsdClient(url, password=password)
            client.login()
            return client
        except VsdClientError:
            raise
        except Exception:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "exited") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_https_with_password_from_environment(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = start(
        [
            "directory",
            "--listen",
            f"127.0.0.1:{port}",
            "--state-dir",
            str(tmp_path / "s"),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        {"OVERCAST_CSPROOT_PASSWORD": "s3cret"},
    )
    try:
        url = f"https://127.0.0.1:{port}"
        client = wait_for(url, "s3cret", process)
        assert client.me["role"] == "CSPROOT"
        with pytest.raises(VsdClientError) as info:
            VsdClient(url, password="csproot").login()
        assert info.value.status == 401
        session = vsdk.NUVSDSession(username="csproot", password="s3cret", enterprise="csp", api_url=url)
        session.start()
        session.user.create_child(vsdk.NUEnterprise(name="over-tls"))
        assert session.user.enterprises.get_first(filter="name == 'over-tls'") is not None
    finally:
        stop(process)
    assert (tmp_path / "s" / "directory.db").exists()
    # A restart keeps the data and does not reset the password.
    process = start(["directory", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path / "s")], {})
    try:
        client = wait_for(f"http://127.0.0.1:{port}", "s3cret", process)
        assert client.list("enterprises", filter="name == 'over-tls'").count == 1
    finally:
        stop(process)


def test_bad_flags_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "overcast", "directory", "--listen", "nonsense", "--state-dir", str(tmp_path)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2 and b"HOST:PORT" in result.stderr


def test_several_api_processes_share_one_store(tmp_path: Path) -> None:
    port = free_port()
    process = start(
        ["directory", "--listen", f"127.0.0.1:{port}", "--state-dir", str(tmp_path), "--processes", "2"],
        {"OVERCAST_CSPROOT_PASSWORD": "pw"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        admin = wait_for(url, "pw", process)
        ent = admin.create("enterprises", {"name": "multi"})
        clients = [VsdClient(url, password="pw") for _ in range(4)]
        for i in range(40):  # new connections land on either process
            clients[i % 4].create(f"enterprises/{ent['ID']}/domaintemplates", {"name": f"t{i}"})
        assert admin.count(f"enterprises/{ent['ID']}/domaintemplates") == 40
        # An API key from one process works on the other; the push channel lives in the store.
        first = clients[0].request("GET", "events").json()
        clients[1].create(f"enterprises/{ent['ID']}/domaintemplates", {"name": "late"})
        polled = VsdClient(url, password="pw")
        polled.api_key = clients[0].api_key
        events = polled.request("GET", "events", params={"uuid": first["uuid"]}).json()["events"]
        assert [e["entities"][0]["name"] for e in events] == ["late"]
    finally:
        stop(process)
