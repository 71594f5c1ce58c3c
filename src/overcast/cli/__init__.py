"""``overcast``: one entry point, a subcommand per service (and, later, client commands)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import __version__

console = Console(stderr=True)
app = typer.Typer(
    name="overcast",
    help="Overcast: policy-driven network virtualization for containers and VMs.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
bench_app = typer.Typer(help="Benchmarks: each writes its figures to a JSON file.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

DEFAULT_STATE_DIR = Path(os.environ.get("OVERCAST_STATE_DIR", "/var/lib/overcast"))


@app.command()
def version() -> None:
    """Print the Overcast version."""
    typer.echo(__version__)


@app.command()
def directory(
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve the VSD API on.")] = "127.0.0.1:8443",
    database: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER:PW@HOST/DB. "
            "Default: SQLite in the state directory."
        ),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the embedded SQLite store lives.")
    ] = DEFAULT_STATE_DIR,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve HTTPS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    api_key_ttl: Annotated[float, typer.Option(help="Seconds an API key stays valid.")] = 86400.0,
    events_timeout: Annotated[float, typer.Option(help="Seconds a /events long poll is held.")] = 30.0,
    worker_threads: Annotated[
        int | None,
        typer.Option(help="Requests served concurrently (default: 2 on SQLite, 32 on PostgreSQL)."),
    ] = None,
    processes: Annotated[
        int, typer.Option(help="API processes sharing the store (stateless replicas on one port).")
    ] = 1,
) -> None:
    """Run the policy directory: the VSD API v6 compatible REST service.

    Example: [bold]overcast directory --listen 0.0.0.0:8443 --database postgresql+psycopg://overcast@db/overcast[/]
    """
    from ..directory.server import DirectoryConfig, serve

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = DirectoryConfig(
        listen=listen,
        database=database,
        state_dir=state_dir,
        tls_cert=tls_cert,
        tls_key=tls_key,
        api_key_ttl=api_key_ttl,
        events_timeout=events_timeout,
        worker_threads=worker_threads,
        processes=processes,
    )
    try:
        serve(config, console)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def demo(
    state_dir: Annotated[Path, typer.Option(help="Where the demo keeps its state.")] = Path(".overcast-demo"),
    listen: Annotated[str, typer.Option(help="HOST:PORT for the directory API.")] = "127.0.0.1:8443",
    check: Annotated[bool, typer.Option(help="Start, verify a login, print, and exit.")] = False,
) -> None:
    """Bring up Overcast in embedded mode on this machine and show how to reach it."""
    from ..demo import run_demo

    try:
        run_demo(state_dir, listen, console, check=check)
    except (OSError, RuntimeError, ValueError) as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None


@bench_app.command("directory")
def bench_directory(
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/directory.json"
    ),
    backend: Annotated[
        list[str] | None, typer.Option(help="Store back end to measure (repeatable): sqlite, postgresql.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="A small run (seconds) to check the harness.")] = False,
) -> None:
    """Measure create latency/throughput, bulk rate and filtered listing of the directory.

    Example: [bold]overcast bench directory --output bench-results/directory.json[/]
    """
    from rich.table import Table

    from ..bench.directory import run

    report = run(str(output), backends=backend or ["sqlite", "postgresql"], quick=quick)
    table = Table(title=f"overcast bench directory → {output}")
    for column in (
        "store",
        "single p50/p99 ms",
        "creates/s (concurrent)",
        "bulk objects/s",
        "filtered page p50 ms",
    ):
        table.add_column(column)
    for name, figures in report["backends"].items():
        table.add_row(
            name,
            f"{figures['single_create']['p50_ms']} / {figures['single_create']['p99_ms']}",
            str(figures["concurrent_create"]["per_second"]),
            str(figures["bulk_create"]["objects_per_second"]),
            str(figures["filtered_listing"]["worst_p50_ms"]),
        )
    console.print(table)


def main() -> None:
    app()
