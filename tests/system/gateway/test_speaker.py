"""Overcast's BGP speaker (gobgpd over gRPC) against FRR 8.4, both in lab namespaces: the
session comes up, an announced floating IP reaches FRR's table and its kernel FIB with the
hosting host as next hop, FRR's default route is learned, a withdrawal takes the route away."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from overcast.gateway.speaker import Speaker
from overcast.lab import Lab
from overcast.lab.frr import Frr

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("gobgpd") and Path("/usr/lib/frr/bgpd").exists()), reason="needs gobgpd and FRR"
    ),  # fmt: skip
]


def test_announce_learn_and_withdraw_with_frr(lab: Lab, tmp_path: Path) -> None:
    lab.host("h1", "10.99.0.1")
    router, _client, _ = lab.outside()
    gateway = lab.host("gw", "10.99.0.253")
    frr = Frr(router, 65000, "10.99.0.254")
    frr.start({"10.99.0.253": 65100})
    speaker = Speaker(65100, "10.99.0.253", tmp_path / "gw", netns=gateway)

    async def scenario() -> None:
        await speaker.start()
        try:
            await speaker.add_peer("10.99.0.254", 65000)
            up = lambda: frr.session_states().get("10.99.0.253") == "Established"  # noqa: E731
            await asyncio.to_thread(frr.wait_for, up, "the session with the gateway")
            await speaker.announce("203.0.113.10/32", "10.99.0.1")
            await asyncio.to_thread(frr.wait_for, lambda: frr.fib().get("203.0.113.10/32") == ["10.99.0.1"],
                                    "the floating IP in the FIB")  # fmt: skip
            assert frr.bgp_routes()["203.0.113.10/32"] == ["10.99.0.1"]
            (peer,) = await speaker.peers()
            assert (peer.address, peer.state) == ("10.99.0.254", "established")
            for _ in range(50):
                learned = await speaker.learned()
                if learned:
                    break
                await asyncio.sleep(0.1)
            assert ("0.0.0.0/0", "10.99.0.254") in {(r.prefix, r.next_hop) for r in learned}
            await speaker.withdraw("203.0.113.10/32", "10.99.0.1")
            await asyncio.to_thread(
                frr.wait_for, lambda: "203.0.113.10/32" not in frr.fib(), "the withdrawal"
            )
            assert "203.0.113.10/32" not in frr.bgp_routes()
        finally:
            await speaker.stop()

    try:
        asyncio.run(scenario())
    finally:
        frr.stop()


def test_gobgpd_dies_with_the_gateway_that_started_it(lab: Lab, tmp_path: Path) -> None:
    """kill -9 of a gateway process must not leave its gobgpd announcing routes nobody updates."""
    import os
    import signal
    import subprocess
    import sys
    import time

    gateway = lab.host("gw", "10.99.0.253")
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from overcast.gateway.speaker import Speaker\n"
        "async def main():\n"
        f"    s = Speaker(65100, '10.99.0.253', Path({str(tmp_path / 'gw')!r}), netns={gateway!r})\n"
        "    await s.start()\n"
        "    print(s.process.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)

    def gobgpd_running() -> bool:
        """A live (not zombie) gobgpd whose socket is under this test's directory."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
            except (OSError, IndexError):
                continue
            if b"gobgpd" in command and str(tmp_path).encode() in command and state != "Z":
                return True
        return False

    try:
        assert driver.stdout is not None
        driver.stdout.readline()  # started
        assert gobgpd_running()
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 5
        while gobgpd_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not gobgpd_running(), "gobgpd outlived its gateway"
    finally:
        driver.kill()
