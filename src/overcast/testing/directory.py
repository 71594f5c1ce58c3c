"""Serve a real directory (uvicorn, real sockets) from a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from ..directory.api import create_app
from ..directory.db import Store, migrate
from ..directory.service import Directory


@dataclass
class ServedDirectory:
    url: str  # http://127.0.0.1:PORT (vspk's api_url)
    directory: Directory

    @property
    def api(self) -> str:
        return self.url + "/nuage/api/v6"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_directory(
    database_url: str,
    *,
    csproot_password: str = "csproot",
    api_key_ttl: float = 3600,
    events_timeout: float = 2.0,
) -> Iterator[ServedDirectory]:
    store = Store(database_url)
    migrate(store)
    directory = Directory(store, api_key_ttl=api_key_ttl)
    directory.bootstrap(csproot_password)
    app = create_app(directory, events_timeout=events_timeout)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="directory", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the directory did not start")
        time.sleep(0.02)
    try:
        yield ServedDirectory(f"http://127.0.0.1:{port}", directory)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        store.dispose()
