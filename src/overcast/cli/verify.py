"""``overcast policy verify``: explanations proven against packets (the work is
:mod:`overcast.client.verify`; the agents it reaches are those whose local sockets it is given:
run it on a host, or where several simulated hosts' agents are local)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..agent.client import AgentClient, AgentClientError
from ..client.controller import ControllerClient
from ..client.verify import run_verify
from .client import (
    AsJson,
    Controller,
    Org,
    Password,
    Url,
    User,
    _errors,
    _print_json,
    out,
    policy_app,
    settings,
)

_DEFAULT_SOCKET = Path("/run/overcast/agent.sock")


@policy_app.command("verify")
def verify_command(
    samples: Annotated[int, typer.Option(help="Flows to try.", min=1)] = 20,
    seed: Annotated[int | None, typer.Option(help="Pick the same flows again.")] = None,
    agent_socket: Annotated[
        list[Path] | None, typer.Option("--agent-socket", help="An agent's local API (repeatable).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds a probe waits for an answer.")] = 1.0,
    as_json: AsJson = False,
    controller: Controller = None,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Prove the model's explanations against packets: for sampled flows between real
    endpoints, the controller's verdict and deciding entries against the probe's fate and the
    deciding entries' counters on their hosts. Exits 1 on any disagreement.

    Example: [bold]overcast policy verify --samples 50 --agent-socket /run/overcast/agent.sock[/]
    """
    s = settings(url, user, password, org, controller)
    agents: dict[str, AgentClient] = {}
    with _errors(), ControllerClient(s.controller, credentials=(s.org, s.user, s.password)) as control:
        try:
            for path in agent_socket or [_DEFAULT_SOCKET]:
                agent = AgentClient(path, timeout=max(10.0, timeout * 3))
                agents[agent.state()["host_id"]] = agent
            report = run_verify(agents, control, samples, seed, timeout)
        except AgentClientError as exc:
            raise LookupError(str(exc)) from None
        finally:
            for agent in agents.values():
                agent.close()
    if as_json:
        _print_json(report)
    else:
        for result in report["results"]:
            for problem in result.get("disagreements") or ():
                out.print(f"[red]disagree[/] {result['sample']}: {problem}")
        out.print(
            f"{report['samples']} flows: {report['agreed']} agree, {report['disagreements']} disagree, "
            f"{report['skipped']} skipped"
        )
    if report["disagreements"]:
        raise typer.Exit(1)
