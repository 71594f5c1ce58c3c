"""Starting the directory service: open the store, migrate, bootstrap, serve HTTP(S)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from .api import create_app
from .db import Store, default_sqlite_url, migrate
from .passwords import csproot_password_from_env
from .service import Directory

log = logging.getLogger(__name__)


@dataclass
class DirectoryConfig:
    listen: str = "127.0.0.1:8443"
    database: str | None = None
    state_dir: Path = Path("/var/lib/overcast")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    api_key_ttl: float = 24 * 3600
    events_timeout: float = 30.0
    worker_threads: int | None = None
    processes: int = 1

    def threads(self) -> int:
        """SQLite has one writer: more threads only fight over the GIL (measured: 64 threads
        gave ~30% fewer creates/s than 2). PostgreSQL round trips release the GIL."""
        if self.worker_threads is not None:
            return self.worker_threads
        return 2 if self.database_url.startswith("sqlite") else 32

    @property
    def database_url(self) -> str:
        return self.database or default_sqlite_url(self.state_dir)

    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"--listen takes HOST:PORT, not {self.listen!r}")
        return host.strip("[]") or "127.0.0.1", int(port)


def open_directory(config: DirectoryConfig, console: Console | None = None) -> Directory:
    """Open (and migrate) the store and make sure the operator account exists."""
    store = Store(config.database_url)
    migrate(store)
    directory = Directory(store, api_key_ttl=config.api_key_ttl)
    password, is_default = csproot_password_from_env()
    directory.bootstrap(password)
    if console is not None:
        for warning in csproot_warnings(directory, password, is_default):
            console.print(f"[yellow]warning:[/] {warning}")
    return directory


def csproot_warnings(directory: Directory, wanted: str, is_default: bool) -> list[str]:
    """What to tell the operator at every start about csproot's password.

    ``OVERCAST_CSPROOT_PASSWORD`` sets the password of a new store only; a running system
    changes it through the API (``overcast update user ID password=...``), as VSD does."""
    warnings = []
    if directory.password_matches("csp", "csproot", "csproot"):
        warnings.append(
            "csproot still has the default password 'csproot': change it now "
            "(overcast update user <csproot ID> password=...; see docs/operations.md)."
        )
    if not is_default and not directory.password_matches("csp", "csproot", wanted):
        warnings.append(
            "OVERCAST_CSPROOT_PASSWORD is used on the first start only and this store exists: "
            "it was ignored (change the password through the API)."
        )
    return warnings


_CONFIG_ENV = "OVERCAST_DIRECTORY_CONFIG"


def _app_from_environment() -> Any:
    """The application of one API process when ``--processes`` > 1 (uvicorn's factory).

    The parent migrated and bootstrapped the store already; each process opens its own
    connections and shares nothing else (push channels live in the store too)."""
    import json

    from ..process import tune_garbage_collector

    tune_garbage_collector()
    raw = json.loads(os.environ[_CONFIG_ENV])
    config = DirectoryConfig(**{**raw, "state_dir": Path(raw["state_dir"])})
    directory = Directory(Store(config.database_url), api_key_ttl=config.api_key_ttl)
    return create_app(directory, events_timeout=config.events_timeout, worker_threads=config.threads())


def serve(config: DirectoryConfig, console: Console) -> None:
    import json

    import uvicorn

    host, port = config.host_port()
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if config.processes < 1:
        raise ValueError("--processes must be at least 1")
    directory = open_directory(config, console)
    scheme = "https" if config.tls_cert else "http"
    console.print(
        f"[bold green]overcast directory[/] on {scheme}://{host}:{port}/nuage/api/v6 "
        f"(store: {_redact(config.database_url)}, {config.processes} process(es))"
    )
    options: dict[str, Any] = dict(
        host=host,
        port=port,
        ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
        ssl_keyfile=str(config.tls_key) if config.tls_key else None,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )
    if config.processes == 1:
        app = create_app(directory, events_timeout=config.events_timeout, worker_threads=config.threads())
        uvicorn.run(app, **options)
        return
    directory.store.dispose()
    os.environ[_CONFIG_ENV] = json.dumps(
        {
            "listen": config.listen,
            "database": config.database_url,
            "state_dir": str(config.state_dir),
            "api_key_ttl": config.api_key_ttl,
            "events_timeout": config.events_timeout,
            "worker_threads": config.worker_threads,
        }
    )
    uvicorn.run(
        "overcast.directory.server:_app_from_environment", factory=True, workers=config.processes, **options
    )


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


class BackgroundServer:
    """A uvicorn server on a thread of this process (embedded mode, tests, benchmarks)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import threading

        import uvicorn

        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="directory-http", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self, timeout: float = 15.0) -> None:
        import time

        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the directory could not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
