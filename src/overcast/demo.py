"""``overcast demo``: the embedded mode, for a newcomer's first minutes.

For now it brings up the directory on the embedded SQLite store, proves it answers a real
login, and prints how to reach it; the full multi-host demo builds on this.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .directory.api import create_app
from .directory.server import BackgroundServer, DirectoryConfig, open_directory


def _login(url: str, password: str) -> dict:
    token = base64.b64encode(f"csproot:{password}".encode()).decode()
    request = urllib.request.Request(
        url + "/nuage/api/v6/me",
        headers={"X-Nuage-Organization": "csp", "Authorization": f"XREST {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())[0]


def run_demo(state_dir: Path, listen: str, console: Console, *, check: bool) -> None:
    config = DirectoryConfig(listen=listen, state_dir=state_dir)
    host, port = config.host_port()
    with console.status("starting the directory (embedded SQLite)…"):
        directory = open_directory(config, console)
        server = BackgroundServer(create_app(directory), host, port)
        server.start()
    try:
        from .directory.service import csproot_password_from_env

        password, _default = csproot_password_from_env()
        me = _login(server.url, password)
        table = Table(show_header=False, box=None)
        table.add_row("API", f"{server.url}/nuage/api/v6  (OpenAPI: {server.url}/docs)")
        table.add_row("store", config.database_url)
        table.add_row("organization", "csp")
        table.add_row("user / password", f"csproot / {password}")
        table.add_row("logged in", f"{me['userName']} ({me['role']}), API key expires {me['APIKeyExpiry']}")
        console.print(Panel(table, title="[bold green]Overcast directory is up", expand=False))
        console.print(
            "Try it with vspk:\n"
            "  from vspk import v6 as vsdk\n"
            f"  s = vsdk.NUVSDSession(username='csproot', password='{password}', enterprise='csp',"
            f" api_url='{server.url}'); s.start()\n"
            "  s.user.create_child(vsdk.NUEnterprise(name='acme'))\n"
        )
        if check:
            return
        console.print("Serving until Ctrl-C.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    finally:
        server.stop()
        directory.store.dispose()
