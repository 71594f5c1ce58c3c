"""``overcast``: one entry point, a subcommand per service (and, later, client commands)."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import __version__
from ..process import tune_garbage_collector

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


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Overcast: policy-driven network virtualization for containers and VMs."""


@app.command()
def version() -> None:
    """Print the Overcast version."""
    typer.echo(__version__)


SYSTEMD_UNIT_DIR = Path("/etc/systemd/system")


@app.command("systemd-units")
def systemd_units(
    output: Annotated[Path, typer.Option(help="Where to write the unit files.")] = SYSTEMD_UNIT_DIR,
    executable: Annotated[
        str | None, typer.Option(help="The overcast executable the units run (default: this one).")
    ] = None,
) -> None:
    """Write the systemd units of the directory, the controller, the agent and the Docker plugin.

    Then: [bold]systemctl daemon-reload && systemctl enable --now overcast-directory[/] (see
    docs/operations.md for the settings and key files each expects).
    """
    from ..systemd import installed_executable, write

    for path in write(output, executable or installed_executable()):
        typer.echo(f"wrote {path}")


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
        tune_garbage_collector()
        serve(config, console)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _metrics_listen(text: str | None) -> str | None:
    """``--metrics-listen``, checked now (a typo fails at start, exit 2)."""
    if text is None:
        return None
    from ..metrics import listen_address

    try:
        listen_address(text)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    return text


@app.command()
def gateway(
    asn: Annotated[int, typer.Option(help="This gateway's AS number.")],
    router_id: Annotated[str, typer.Option(help="BGP router ID (an IPv4 address of this gateway).")],
    peer: Annotated[list[str], typer.Option(help="A router to peer with, ADDRESS:AS (repeat for several).")],
    database: Annotated[
        str | None,
        typer.Option(help="The directory's store (SQLAlchemy URL). Default: SQLite in the state directory."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="The embedded store's directory; the speaker's socket and log go under it.")
    ] = DEFAULT_STATE_DIR,
    bgp_port: Annotated[int, typer.Option(help="The TCP port BGP listens on.")] = 179,
    bgp_netns: Annotated[
        str | None, typer.Option(help="Run the BGP daemon in this network namespace (labs).")
    ] = None,
    poll_interval: Annotated[float, typer.Option(help="Seconds between change-log reads.")] = 0.05,
    metrics_listen: Annotated[
        str | None, typer.Option(help="Serve Prometheus metrics on HOST:PORT (/metrics).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every announcement.")] = False,
) -> None:
    """Run a gateway: announce floating IPs and advertised subnets to the routers over BGP
    (gobgpd), with the hosts that translate them as next hops; learn the routers' routes.
    Run two for redundancy: they announce the same paths.

    Example: [bold]overcast gateway --asn 65100 --router-id 10.0.0.253 --peer 10.0.0.254:65000[/]
    """
    import asyncio

    from ..gateway.service import run_gateway

    _logging(verbose)
    peers: dict[str, int] = {}
    for item in peer:
        address, _, number = item.rpartition(":")
        try:
            peers[str(ipaddress.IPv4Address(address))] = int(number)
        except ValueError:
            console.print(f"[red]error:[/] --peer {item}: give ADDRESS:AS, e.g. 10.0.0.254:65000")
            raise typer.Exit(2) from None
    try:
        asyncio.run(
            run_gateway(
                database,
                state_dir,
                asn=asn,
                router_id=router_id,
                peers=peers,
                bgp_netns=bgp_netns,
                listen_port=bgp_port,
                poll_interval=poll_interval,
                metrics_listen=_metrics_listen(metrics_listen),
            )
        )
    except KeyboardInterrupt:
        pass


@app.command()
def controller(
    database: Annotated[
        str | None,
        typer.Option(help="The directory's store (SQLAlchemy URL). Default: SQLite in the state directory."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the embedded SQLite store lives.")
    ] = DEFAULT_STATE_DIR,
    listen: Annotated[str, typer.Option(help="HOST:PORT for agents' gRPC sessions.")] = "127.0.0.1:7406",
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="CA of agent certificates: require mutual TLS; host ID = certificate CN."),
    ] = None,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between change-log reads when not woken (SQLite).")
    ] = 0.025,
    host_grace: Annotated[
        float, typer.Option(help="Seconds without a session before a host is recorded DOWN.")
    ] = 30.0,
    controller_id: Annotated[
        str | None, typer.Option(help="Name in logs and status (default: random).")
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve plaintext gRPC without TLS: anyone who reaches the port can pose as a host "
            "(tests and the demo on loopback only).",
        ),
    ] = False,
    max_hosts: Annotated[
        int, typer.Option(help="The most hosts the directory records; a new host past it is refused.")
    ] = 10_000,
    metrics_listen: Annotated[
        str | None, typer.Option(help="Serve Prometheus metrics on HOST:PORT (/metrics).")
    ] = None,
    stats_flush_interval: Annotated[
        float, typer.Option(help="Seconds between writes of the hosts' statistics to the store.", min=0.1)
    ] = 10.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log sessions and batches.")] = False,
) -> None:
    """Run the controller: tail the directory, compile policy per host, stream it to agents.

    Example: [bold]overcast controller --database postgresql+psycopg://db/overcast --listen 0.0.0.0:7406[/]
    """
    import asyncio

    from ..controller.server import ControllerConfig, run_controller

    _logging(verbose)
    config = ControllerConfig(
        database=database,
        state_dir=state_dir,
        listen=listen,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        poll_interval=poll_interval,
        host_grace=host_grace,
        controller_id=controller_id,
        max_hosts=max_hosts,
        metrics_listen=_metrics_listen(metrics_listen),
        stats_flush_interval=stats_flush_interval,
    )
    if (tls_cert is None) != (tls_key is None) or (tls_client_ca is not None and tls_cert is None):
        console.print("[red]error:[/] --tls-cert and --tls-key go together; --tls-client-ca needs them")
        raise typer.Exit(2)
    if tls_cert is None and not insecure:
        console.print(
            "[red]error:[/] the controller serves TLS: give --tls-cert, --tls-key and --tls-client-ca "
            "(hosts identified by their certificates), or --insecure to serve plaintext anyway"
        )
        raise typer.Exit(2)
    if tls_client_ca is None:
        console.print(
            "[yellow]warning:[/] without --tls-client-ca any client can pose as any host "
            "(its runtime credentials still bound what it may change)"
        )

    def started(service: object, port: int) -> None:
        console.print(f"controller listening on {listen.rpartition(':')[0]}:{port}")

    try:
        tune_garbage_collector()
        asyncio.run(run_controller(config, started=started))
    except (OSError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


agent_app = typer.Typer(
    help="Run the host agent (no subcommand), or talk to a running one (attach, detach, state).",
    invoke_without_command=True,
)
app.add_typer(agent_app, name="agent")
SocketOption = Annotated[Path, typer.Option("--socket", help="The agent's local API socket.")]
_DEFAULT_SOCKET = Path(os.environ.get("OVERCAST_AGENT_SOCKET", "/run/overcast/agent.sock"))


@agent_app.callback()
def agent(
    ctx: typer.Context,
    controller: Annotated[
        str | None,
        typer.Option("--controller", help="HOST:PORT[,HOST:PORT...] of controllers (failover order)."),
    ] = None,
    host_id: Annotated[
        str | None, typer.Option(help="This host's ID (its vrs name in the directory).")
    ] = None,
    underlay_ip: Annotated[str | None, typer.Option(help="This host's underlay (VTEP) address.")] = None,
    dataplane: Annotated[str, typer.Option(help="memory or linux.")] = "memory",
    host_netns: Annotated[
        str | None, typer.Option(help="A network namespace that acts as this host (tests, the demo).")
    ] = None,
    socket: SocketOption = _DEFAULT_SOCKET,
    tls_ca: Annotated[
        Path | None, typer.Option(help="CA that signed the controller's certificate: use TLS.")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="This host's client certificate (CN = host ID).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Private key of --tls-cert.")] = None,
    tls_server_name: Annotated[
        str | None, typer.Option(help="Name to expect in the controller's certificate.")
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(
            help="TOML file (mode 600): organization, user, password of the directory user whose "
            "rights this host's runtimes act with. Without it, endpoint requests are refused."
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Talk plaintext gRPC to the controller (no --tls-ca).")
    ] = False,
    metrics_listen: Annotated[
        str | None, typer.Option(help="Serve Prometheus metrics on HOST:PORT (/metrics).")
    ] = None,
    stats_interval: Annotated[
        float, typer.Option(help="Seconds between counter reports to the controller (0: none).", min=0)
    ] = 10.0,
    flow_syslog: Annotated[
        str | None, typer.Option(help="HOST:PORT of a syslog server (UDP) for flow records, as JSON.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log sessions and updates.")] = False,
) -> None:
    """Run the agent of one host.

    Example: [bold]overcast agent --controller ctl1:7406,ctl2:7406 --host-id h1 --underlay-ip 192.0.2.1[/]
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = socket
        return
    import asyncio
    import ipaddress

    from ..agent.agent import TlsFiles
    from ..agent.runner import AgentConfig, parse_controllers, run_agent

    _logging(verbose)
    try:
        if not controller or not host_id or not underlay_ip:
            raise ValueError("running an agent needs --controller, --host-id and --underlay-ip")
        ipaddress.ip_address(underlay_ip)
        if (tls_cert is None) != (tls_key is None) or (tls_cert is not None and tls_ca is None):
            raise ValueError("--tls-cert and --tls-key go together, and need --tls-ca")
        controllers = parse_controllers(controller)
        if tls_ca is None and not insecure:
            raise ValueError(
                "the agent talks TLS to its controller: give --tls-ca (and --tls-cert, --tls-key), "
                "or --insecure to talk plaintext anyway"
            )
        from ..agent.credentials import RuntimeCredentials

        runtime_credentials = RuntimeCredentials.load(credentials) if credentials else None
        config = AgentConfig(
            host_id=host_id,
            underlay_ip=underlay_ip,
            controllers=controllers,
            dataplane=dataplane,
            socket=socket,
            tls=TlsFiles(tls_ca, tls_cert, tls_key) if tls_ca else None,
            tls_server_name=tls_server_name,
            host_netns=host_netns,
            credentials=runtime_credentials,
            metrics_listen=_metrics_listen(metrics_listen),
            stats_interval=stats_interval,
            flow_syslog=flow_syslog,
        )
        from ..agent.runner import make_dataplane

        make_dataplane(dataplane, host_id, underlay_ip, host_netns)  # fail now on a bad flag
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        tune_garbage_collector()
        asyncio.run(run_agent(config))
    except OSError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


def _agent_client(socket: Path):  # noqa: ANN202
    from ..agent.client import AgentClient

    return AgentClient(socket)


def _agent_call(ctx: typer.Context, socket: Path | None, call: str, *args: object) -> object:
    from ..agent.client import AgentClientError

    path = socket or ctx.obj or _DEFAULT_SOCKET
    try:
        with _agent_client(path) as client:
            return getattr(client, call)(*args)
    except AgentClientError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@agent_app.command("attach")
def agent_attach(
    ctx: typer.Context,
    vport: Annotated[str, typer.Option(help="The vport ID (the interface's VPortID).")],
    mac: Annotated[str, typer.Option(help="The interface's MAC address.")],
    netns: Annotated[str | None, typer.Option(help="Network namespace to plumb the interface into.")] = None,
    socket: Annotated[Path | None, typer.Option("--socket", help="The agent's local API socket.")] = None,
) -> None:
    """Report an endpoint up on this host and wait until it is wired.

    Example: [bold]overcast agent attach --vport 3f…e1 --mac 02:00:0a:00:00:05[/]
    """
    import json

    result = _agent_call(ctx, socket, "attach", vport, mac, netns)
    typer.echo(json.dumps(result, indent=2))


@agent_app.command("detach")
def agent_detach(
    ctx: typer.Context,
    vport: Annotated[str, typer.Option(help="The vport ID.")],
    mac: Annotated[str | None, typer.Option(help="The MAC (only if the agent never held it).")] = None,
    socket: Annotated[Path | None, typer.Option("--socket", help="The agent's local API socket.")] = None,
) -> None:
    """Report an endpoint down on this host (idempotent)."""
    _agent_call(ctx, socket, "detach", vport, mac)
    typer.echo(f"detached {vport}")


@agent_app.command("counters")
def agent_counters(
    ctx: typer.Context,
    socket: Annotated[Path | None, typer.Option("--socket", help="The agent's local API socket.")] = None,
) -> None:
    """What this host's datapath counted: per domain and direction, each ACL entry's packets
    and bytes (its rules summed) and the default verdict's, as JSON."""
    import json

    typer.echo(json.dumps(_agent_call(ctx, socket, "counters"), indent=2))


@agent_app.command("state")
def agent_state(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The full dump as JSON.")] = False,
    socket: Annotated[Path | None, typer.Option("--socket", help="The agent's local API socket.")] = None,
) -> None:
    """Show what the agent holds: session, applied revision, domains and endpoints."""
    import json

    from rich.table import Table

    dump = _agent_call(ctx, socket, "state")
    assert isinstance(dump, dict)
    if as_json:
        typer.echo(json.dumps(dump, indent=2))
        return
    session = dump["session"]
    out = Console()
    out.print(
        f"host [bold]{dump['host_id']}[/] ({dump['underlay_ip']}) · revision {dump['applied_revision']} · "
        + (
            f"connected to {session['controller']}"
            if session["connected"]
            else f"[yellow]headless[/] {session['last_error'] or ''}"
        )
    )
    table = Table("domain", "subnets", "local", "remote", "sets", "ingress", "egress")
    for domain in dump["domains"]:
        table.add_row(
            domain["id"],
            ", ".join(s["prefix"] for s in domain["subnets"]),
            "\n".join(f"{e['ip']} {e['mac']}" for e in domain["local"]),
            str(len(domain["remote"])),
            str(len(domain["sets"])),
            str(len(domain["ingress"])),
            str(len(domain["egress"])),
        )
    out.print(table)


@agent_app.command("cleanup")
def agent_cleanup(
    ctx: typer.Context,
    host_id: Annotated[
        str | None,
        typer.Option(help="The host whose objects to remove (default: every Overcast namespace here)."),
    ] = None,
    host_netns: Annotated[
        str | None, typer.Option(help="The namespace acting as this host (tests, the demo).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Even while an agent serves the socket.")] = False,
    socket: Annotated[Path | None, typer.Option("--socket", help="The agent's local API socket.")] = None,
) -> None:
    """Decommission this host: remove every kernel object the agent owns (domain namespaces,
    their bridges, VXLANs, nftables tables and endpoint veths). Idempotent.

    An agent keeps its datapath when it stops (a restart must not drop traffic); this is how a
    retired host gives it back. Refused while an agent answers on the socket, unless --force.
    """
    import os

    from ..agent.client import AgentClient, AgentClientError

    path = socket or ctx.obj or _DEFAULT_SOCKET
    if os.geteuid() != 0:
        console.print("[red]error:[/] cleanup needs root (network namespaces, netlink)")
        raise typer.Exit(2)
    if host_netns is not None and not os.path.exists(f"/run/netns/{host_netns}"):
        console.print(f"[red]error:[/] --host-netns {host_netns}: no such network namespace")
        raise typer.Exit(2)
    if not force and path.exists():
        try:
            with AgentClient(path, timeout=2) as agent:
                serving = agent.health()
        except AgentClientError:
            serving = None
        if serving is not None:
            console.print(f"[red]error:[/] an agent is serving {path}: stop it first, or pass --force")
            raise typer.Exit(1)
    from ..dataplane.linux.driver import LinuxDataplane

    dataplane = LinuxDataplane(host_id or "", "", host_netns=host_netns)
    if host_id is None:
        dataplane.prefix = "ovc-"  # every host's: one agent per machine, as in production
    try:
        removed = dataplane.decommission()
    finally:
        dataplane.close()
    for item in removed:
        typer.echo(f"removed {item}")
    typer.echo(f"{len(removed)} object(s) removed")


@app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave it running and print what to try next.")
    ] = False,
    down: Annotated[
        bool, typer.Option("--down", help="Remove everything a demo created, and nothing else.")
    ] = False,
    state_dir: Annotated[Path, typer.Option(help="Where the demo keeps its logs and state.")] = Path(
        ".overcast-demo"
    ),
    listen: Annotated[str, typer.Option(help="HOST:PORT for the directory API.")] = "127.0.0.1:8443",
    controller: Annotated[str, typer.Option(help="HOST:PORT for the controller.")] = "127.0.0.1:7406",
) -> None:
    """The main job: the whole system on this machine, an application with policy, proof.

    Needs root. Starts the directory, the controller and three simulated hosts with agents on the
    Linux dataplane; deploys a WordPress site with policy through the REST API and probes it with
    real connections. Exits non-zero when any probe disagrees with the policy.

    Examples: [bold]overcast demo[/] · [bold]overcast demo --keep[/] · [bold]overcast demo --down[/]
    """
    from ..demo import DemoError, DemoOptions, run_demo, tear_down

    try:
        if down:
            tear_down(state_dir, console)
            return
        ok = run_demo(
            DemoOptions(state_dir=state_dir, listen=listen, controller=controller, keep=keep), console
        )
    except (DemoError, OSError, RuntimeError) as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None
    if not ok:
        raise typer.Exit(1)


@app.command("docker-plugin")
def docker_plugin(
    socket: Annotated[
        Path, typer.Option(help="Where dockerd finds the plugin (the name is the driver's).")
    ] = Path("/run/docker/plugins/overcast.sock"),
    agent_socket: Annotated[Path, typer.Option(help="The local agent's API socket.")] = Path(
        "/run/overcast/agent.sock"
    ),
    state_dir: Annotated[
        Path, typer.Option(help="Where the plugin keeps its networks and endpoints.")
    ] = Path("/var/lib/overcast/docker"),
) -> None:
    """Serve Docker's remote network and IPAM driver API (run it in dockerd's network namespace).

    Example: [bold]overcast docker-plugin[/], then
    [bold]docker network create -d overcast --ipam-driver overcast --subnet 10.10.1.0/24
    -o enterprise=acme -o domain=wordpress -o zone=web -o subnet=web acme-web[/]
    """
    from ..docker.plugin import serve

    serve(socket, agent_socket, state_dir)


@bench_app.command("appd")
def bench_appd(
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/appd.json"
    ),
    instances: Annotated[int, typer.Option(help="WordPress instances deployed from one template.")] = 100,
    populated: Annotated[
        int, typer.Option(help="Instances given endpoints before the admission round.")
    ] = 10,
    endpoints_per_tier: Annotated[int, typer.Option(help="Endpoints per tier of a populated instance.")] = 2,
    writes: Annotated[int, typer.Option(help="Timed single writes, without and with policies.")] = 200,
) -> None:
    """Deploy N instances of the WordPress application template, then time single writes
    without and with three ENFORCE compliance policies.

    Example: [bold]overcast bench appd --instances 100[/]
    """
    from ..bench.appd import run

    report = run(
        str(output),
        instances=instances,
        populated=populated,
        endpoints_per_tier=endpoints_per_tier,
        writes=writes,
    )
    deployed, admission = report["instances"], report["admission"]
    per_instance = deployed["per_instance"]
    console.print(
        f"{deployed['count']} instances in {deployed['total_seconds']} s "
        f"({deployed['objects_deployed']} objects; "
        f"per instance p50/p99 {per_instance['p50_ms']}/{per_instance['p99_ms']} ms); "
        f"a write p50/p99 without policies {admission['without_policies']['p50_ms']}/"
        f"{admission['without_policies']['p99_ms']} ms, with {admission['policies']} enforced "
        f"{admission['with_enforce_policies']['p50_ms']}/{admission['with_enforce_policies']['p99_ms']} ms "
        f"({admission['endpoints']} endpoints) → {output}"
    )


@bench_app.command("statistics")
def bench_statistics(
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/statistics.json"
    ),
    endpoints: Annotated[int, typer.Option(help="Endpoints, every one moving every interval.")] = 20_000,
    hosts: Annotated[int, typer.Option(help="Hosts reporting.")] = 40,
    entries: Annotated[int, typer.Option(help="ACL entries with statsLoggingEnabled, all moving.")] = 700,
    minutes: Annotated[int, typer.Option(help="Simulated minutes of 10-second intervals.")] = 15,
    database: Annotated[
        str | None,
        typer.Option(help="A store URL (default: a fresh SQLite file); PostgreSQL: a scratch database."),
    ] = None,
) -> None:
    """What VSD statistics cost the store at the scale benchmark's size: rows and time per
    flush, roll-ups, and the store's size once every resolution's retention is full.

    Example: [bold]overcast bench statistics --minutes 15[/]
    """
    from ..bench.statistics import run

    report = run(str(output), endpoints=endpoints, hosts=hosts, entries=entries, minutes=minutes,
                 database=database)  # fmt: skip
    flush = report["flush"]
    console.print(
        f"{report['rows_per_flush']} rows per 10 s flush ({report['write_rate_rows_per_s']} rows/s), "
        f"p50/p99 {flush['p50_ms']}/{flush['p99_ms']} ms ({report['store_busy_fraction_at_10s']:.1%} of the "
        f"store's time); {report['bytes_per_row']} bytes per row, {report['steady_store_mb']} MB kept at "
        f"steady state → {output}"
    )


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


@bench_app.command("controller")
def bench_controller(
    hosts: Annotated[int, typer.Option(help="Agent sessions (simulated hosts, memory dataplane).")] = 40,
    endpoints: Annotated[int, typer.Option(help="Endpoints spread evenly over the hosts.")] = 20000,
    samples: Annotated[int, typer.Option(help="Single-endpoint adds to time.")] = 100,
    database: Annotated[str, typer.Option(help="sqlite or postgresql (a throwaway cluster).")] = "sqlite",
    agent_processes: Annotated[
        int | None, typer.Option(help="Processes the simulated agents run in (default: one per core).")
    ] = None,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/controller.json"
    ),
) -> None:
    """Measure the controller: initial fan-out, single-add latency to the last ack, memory.

    Example: [bold]overcast bench controller --hosts 40 --endpoints 20000 --output controller.json[/]
    """
    from rich.table import Table

    from ..bench.controller import run

    report = run(
        str(output),
        hosts=hosts,
        endpoints=endpoints,
        samples=samples,
        backend=database,
        agent_processes=agent_processes,
    )
    table = Table(title=f"overcast bench controller → {output}")
    for column in ("hosts", "endpoints", "fan-out s", "add p50/p99 ms", "controller RSS MB", "verified"):
        table.add_column(column)
    table.add_row(
        str(report["hosts"]),
        str(report["endpoints"]),
        str(report["fanout_seconds"]),
        f"{report['add']['p50_ms']} / {report['add']['p99_ms']}",
        str(report["controller_rss_mb"]),
        str(report["verified"]),
    )
    console.print(table)


@bench_app.command("paths")
def bench_paths(
    hosts: Annotated[int, typer.Option(help="Hosts (memory dataplanes).")] = 40,
    endpoints: Annotated[int, typer.Option(help="Endpoints spread evenly over the hosts.")] = 20000,
    flows: Annotated[int, typer.Option(help="Random flows to trace and judge.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the flows drawn.")] = 1,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/paths.json"
    ),
) -> None:
    """Check the compiler, the Linux driver's plan and its nftables rules against the oracle at
    scale, without root: packets traced through memory dataplanes, every verdict compared.

    Example: [bold]overcast bench paths --hosts 40 --endpoints 20000 --flows 2000[/]
    """
    from ..bench.paths import run

    report = run(str(output), hosts=hosts, endpoints=endpoints, flows=flows, seed=seed)
    console.print(
        f"{report['flows']} flows ({report['allowed']} allowed, {report['denied']} denied) over "
        f"{report['endpoints']} endpoints on {report['hosts']} hosts: {report['disagreements']} "
        f"disagreements; programming a host p50 {report['program_host_ms']['p50_ms']} ms, a trace "
        f"p50 {report['trace_and_judge_ms']['p50_ms']} ms"
    )
    if report["disagreements"]:
        for wrong in report["first_disagreements"]:
            console.print(f"[red]disagrees:[/] {wrong}")
        raise typer.Exit(1)


@bench_app.command("gateway")
def bench_gateway(
    samples: Annotated[int, typer.Option(help="Floating IPs assigned and unassigned one at a time.")] = 100,
    fips: Annotated[
        int, typer.Option(help="Floating IPs assigned in a row, to converge in the router.")
    ] = 1000,
    iperf_seconds: Annotated[
        float, typer.Option(help="Length of each iperf3 run through NAT and routed; 0 skips throughput.")
    ] = 5.0,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/gateway.json"
    ),
) -> None:
    """Measure north-south routing (root): floating IP assigned -> route in FRR's FIB (and
    withdrawn), many floating IPs converging, a gateway's CPU and memory, and what kill -9 of
    one of two gateways costs the routes.

    Example: [bold]sudo overcast bench gateway --samples 100 --fips 1000[/]
    """
    from ..bench.gateway import run

    try:
        report = run(str(output), samples=samples, fips=fips, iperf_seconds=iperf_seconds)
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    bulk, failover, learn = report["bulk"], report["failover"], report["assign_to_fib"]
    console.print(
        f"assign -> FIB p50/p99 {learn['p50_ms']} / {learn['p99_ms']} ms, "
        f"withdraw {report['withdraw_from_fib']['p50_ms']} / {report['withdraw_from_fib']['p99_ms']} ms; "
        f"{bulk['floating_ips']} floating IPs in the FIB in {bulk['all_in_fib_seconds']} s "
        f"(gateway {bulk['gateway_cpu_seconds']} CPU s, {bulk['gateway_peak_rss_mb']} MB; gobgpd "
        f"{bulk['gobgpd_cpu_seconds']} CPU s, {bulk['gobgpd_peak_rss_mb']} MB); kill -9 of a gateway: "
        f"longest gap {failover['longest_gap_seconds']} s, route kept: {failover['route_kept']}"
    )
    if report["throughput"]:
        through = report["throughput"]
        console.print(
            f"iperf3 Gbit/s (median): through NAT {through['through_nat']['gbit_per_s_median']}, routed "
            f"{through['routed']['gbit_per_s_median']} (ratio {through['ratio_nat_vs_routed']})"
        )


@bench_app.command("dataplane")
def bench_dataplane(
    endpoints: Annotated[int, typer.Option(help="Container namespaces to attach on one host.")] = 500,
    samples: Annotated[int, typer.Option(help="Membership changes to time.")] = 50,
    iperf_seconds: Annotated[
        float, typer.Option(help="Length of each iperf3 run (3 per path); 0 skips throughput.")
    ] = 5.0,
    batch: Annotated[
        int, typer.Option(help="Endpoints per delta: 1 = one at a time; more = a burst, as coalesced.")
    ] = 1,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/dataplane.json"
    ),
) -> None:
    """Measure the Linux dataplane (root): attach rate to traffic passing, membership-change
    latency, and iperf3 throughput with a realistic policy vs. none vs. a plain veth pair.

    Example: [bold]sudo overcast bench dataplane --endpoints 500[/]
    """
    from ..bench.dataplane import run

    try:
        report = run(
            str(output), endpoints=endpoints, samples=samples, iperf_seconds=iperf_seconds, batch=batch
        )
    except RuntimeError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    change = report["membership_change"]
    console.print(
        f"attach {report['attach_per_second']}/s over {report['endpoints']} endpoints, {batch} per delta "
        f"({report['unreachable']} unreachable); membership change p50/p99 "
        f"{change['p50_ms']} / {change['p99_ms']} ms"
    )
    throughput = report.get("throughput")
    if isinstance(throughput, dict):
        console.print(
            f"iperf3 Gbit/s (median): overlay with policy "
            f"{throughput['overlay_realistic_policy']['gbit_per_s_median']}, no rules "
            f"{throughput['overlay_no_rules']['gbit_per_s_median']} (ratio "
            f"{throughput['ratio_policy_vs_no_rules']}), "
            f"plain veth {throughput['plain_veth']['gbit_per_s_median']}"
        )
    console.print(f"→ {output}")


@bench_app.command("scale")
def bench_scale(
    hosts: Annotated[int, typer.Option(help="Hosts: one agent each, real gRPC sessions.")] = 40,
    containers: Annotated[int, typer.Option(help="Containers, spread evenly over the hosts.")] = 20000,
    acls_per_container: Annotated[
        int, typer.Option(help="ACL entries per policy group (per container).")
    ] = 7,
    samples: Annotated[int, typer.Option(help="Steady-state single adds to time.")] = 100,
    dataplane: Annotated[
        str,
        typer.Option(help="memory, or linux: real namespaces (4 hosts x 250 containers by default; root)."),
    ] = "memory",
    database: Annotated[str, typer.Option(help="sqlite or postgresql (a throwaway cluster).")] = "sqlite",
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/scale.json"
    ),
    chart: Annotated[Path, typer.Option(help="A PNG of endpoints ready over time.")] = Path(
        "bench-results/scale.png"
    ),
    attach_per_host: Annotated[
        int, typer.Option(help="--dataplane linux: attach requests in flight per host (a runtime's burst).")
    ] = 32,
) -> None:
    """The 2014 scale demo end to end: containers created through the REST API, attached by their
    hosts' agents, verified by digest against a fresh compile; then steady-state adds.

    Example: [bold]overcast bench scale[/] (20,000 containers, 40 hosts, 140,000 expanded entries)
    """
    from ..bench.scale import run

    if dataplane not in ("memory", "linux"):
        console.print("[red]error:[/] --dataplane is memory or linux")
        raise typer.Exit(2)
    if dataplane == "linux":
        from ..bench.scale import run_linux

        # The real-datapath variant's own default size: 4 hosts x 250 containers.
        linux = run_linux(
            str(output),
            hosts=4 if hosts == 40 else hosts,
            containers=1000 if containers == 20000 else containers,
            database=database,
            attach_per_host=attach_per_host,
        )
        console.print(
            f"linux dataplane: {linux['containers']} containers on {linux['hosts']} hosts in "
            f"{linux['total_seconds']} s ({linux['containers_per_second']}/s, target ≥ 100/s), "
            f"unreachable {linux['unreachable']}, verified {linux['verified']} → {output}"
        )
        return
    try:
        report = run(
            str(output),
            hosts=hosts,
            containers=containers,
            acls_per_container=acls_per_container,
            samples=samples,
            database=database,
            chart=str(chart),
        )
    except (RuntimeError, OSError) as exc:
        console.print(f"[red]bench scale failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"{report['containers']} containers on {report['hosts']} hosts in {report['total_seconds']} s "
        f"({report['containers_per_second']}/s; 2014: 480 s), steady add p50/p99 "
        f"{report['steady_add_p50_ms']} / {report['steady_add_p99_ms']} ms, controller RSS "
        f"{report['controller_rss_mb']} MB, verified {report['verified']} → {output}"
    )


@bench_app.command("containers")
def bench_containers(
    containers: Annotated[int, typer.Option(help="Containers started per plugin (alternating).")] = 50,
    output: Annotated[Path, typer.Option(help="Where to write the JSON figures.")] = Path(
        "bench-results/containers.json"
    ),
) -> None:
    """podman container start to network-ready: overcast-cni vs. the reference bridge plugin (root).

    Example: [bold]sudo overcast bench containers --containers 50[/]
    """
    from ..bench.containers import run

    report = run(str(output), containers=containers)
    ours, theirs = report["podman_run_overcast"], report["podman_run_reference_bridge"]
    console.print(
        f"podman run → network-ready p50/p99: overcast {ours['p50_ms']} / {ours['p99_ms']} ms, "
        f"reference bridge {theirs['p50_ms']} / {theirs['p99_ms']} ms "
        f"(ratio p50 {report['ratio_p50']}, target ≤ {report['target_ratio']}); "
        f"unreachable {report['unreachable']} → {output}"
    )


def main() -> None:
    app()


def _register_client_commands() -> None:
    from .client import register

    register(app)


_register_client_commands()
