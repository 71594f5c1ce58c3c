"""``overcast policy check``: compliance policies, their violations, and what-if."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..client.vsd import VsdClient
from .client import (
    AsJson,
    Org,
    Password,
    Url,
    User,
    _errors,
    _print_json,
    _session,
    err,
    out,
    policy_app,
    settings,
)


def policy_report(client: VsdClient, name: str | None = None) -> list[dict[str, Any]]:
    """Every compliance policy the user may see (or the one named), with its violations."""
    policies = client.list_all("compliancepolicies")
    if name is not None:
        policies = [p for p in policies if p["name"] == name]
        if not policies:
            raise LookupError(f"no compliance policy named '{name}'")
    report = []
    for policy in policies:
        found = client.list_all(f"compliancepolicies/{policy['ID']}/complianceviolations")
        report.append(
            {
                "name": policy["name"],
                "ID": policy["ID"],
                "mode": policy["mode"],
                "warnings": policy.get("warnings"),
                "violations": [
                    {
                        k: v.get(k)
                        for k in (
                            "line",
                            "sentence",
                            "source",
                            "destination",
                            "protocol",
                            "reason",
                            "pairCount",
                            "decidedBy",
                        )
                    }
                    for v in sorted(found, key=lambda v: (v.get("line") or 0, v.get("source") or ""))
                ],
            }
        )
    return report


def _violation_table(title: str, violations: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("line", "from", "to", "traffic", "", "decided by"):
        table.add_column(column)
    for v in violations:
        table.add_row(
            str(v.get("line")),
            escape(str(v.get("source"))),
            escape(str(v.get("destination"))),
            escape(str(v.get("protocol"))),
            escape(str(v.get("reason"))),
            escape(str(v.get("decidedBy"))),
        )
    return table


@policy_app.command("check")
def check(
    name: Annotated[str | None, typer.Argument(help="Only this compliance policy.")] = None,
    what_if: Annotated[
        Path | None,
        typer.Option(
            "--what-if", help='Judge these writes without committing them: JSON [{"method", "path", "body"}].'
        ),
    ] = None,
    as_json: AsJson = False,
    url: Url = None,
    user: User = None,
    password: Password = None,
    org: Org = None,
) -> None:
    """Compliance policies and their violations: each names the sentence, an example flow and
    the entries that decide it. Exits 1 while any policy is violated. With --what-if, what the
    writes would add and remove (exit 1 if an ENFORCE policy would refuse them).

    Example: [bold]overcast policy check --what-if change.json[/]
    """
    with _errors():
        client = _session(settings(url, user, password, org))
        if what_if is not None:
            try:
                steps = json.loads(what_if.read_text())
            except (OSError, ValueError) as exc:
                err.print(f"[red]error:[/] {what_if}: {exc}")
                raise typer.Exit(2) from None
            report = client.call("POST", "compliancechecks", {"changes": steps})
            _show_what_if(report, as_json)
            return
        policies = policy_report(client, name)
    if as_json:
        _print_json(policies)
    else:
        for policy in policies:
            count = len(policy["violations"])
            colour = "green" if not count else ("red" if policy["mode"] == "ENFORCE" else "yellow")
            out.print(
                f"[bold]{escape(policy['name'])}[/] ({policy['mode']}): [{colour}]{count} violation(s)[/]"
            )
            if policy["warnings"]:
                out.print(f"  [yellow]warning:[/] {escape(policy['warnings'])}")
            if count:
                out.print(_violation_table("", policy["violations"]))
    if any(p["violations"] for p in policies):
        raise typer.Exit(1)


def _show_what_if(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(report)
    elif "error" in report:
        error = report["error"]
        description = error.get("errors", [{}])[0].get("descriptions", [{}])[0].get("description", error)
        out.print(
            f"[red]refused by the directory[/] at step {report.get('step')}: {escape(str(description))}"
        )
    else:
        for policy in report.get("policies", []):
            out.print(
                f"[bold]{escape(policy['name'])}[/] ({policy['mode']}): "
                f"{len(policy['added'])} added, {len(policy['removed'])} removed"
            )
            if policy["added"]:
                out.print(_violation_table("would add", policy["added"]))
            if policy["removed"]:
                out.print(_violation_table("would remove", policy["removed"]))
        verdict = "[red]would be refused[/]" if report.get("refused") else "[green]would be accepted[/]"
        out.print(f"the change {verdict}")
    if report.get("refused"):
        raise typer.Exit(1)
