"""Overcast services as real processes (system tests and benchmarks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..client.vsd import VsdClient, VsdClientError


class Service:
    """``python -m overcast ARGS`` with its output in a log file (read on failure)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args, self.log = args, log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "overcast", *args],
            env={**os.environ, **(env or {})},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except VsdClientError:
                raise
            except Exception:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"{' '.join(self.args)} exited: {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.output()}")
            time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._log_file.close()


def logged_in(url: str, password: str = "csproot") -> Callable[[], bool]:
    def ready() -> bool:
        VsdClient(url, password=password).login()
        return True

    return ready
