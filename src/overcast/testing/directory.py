"""Serve a real directory (uvicorn, real sockets) from a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..directory.api import create_app
from ..directory.db import Store, migrate
from ..directory.server import BackgroundServer
from ..directory.service import Directory
from .ports import free_port


@dataclass
class ServedDirectory:
    url: str  # http://127.0.0.1:PORT (vspk's api_url)
    directory: Directory

    @property
    def api(self) -> str:
        return self.url + "/nuage/api/v6"


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
    server = BackgroundServer(app, "127.0.0.1", free_port())
    server.start()
    try:
        yield ServedDirectory(server.url, directory)
    finally:
        server.stop()
        store.dispose()
