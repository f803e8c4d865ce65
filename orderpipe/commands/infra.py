"""up, down, status: provision, remove and inspect what the pipeline runs on."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.render import OutputFormat, plain, text_table
from orderpipe.targets.base import Action


def plan_table(plan: list[Action], title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in ("", "resource", "call", "why"):
        table.add_column(column)
    style = {"create": "green", "update": "yellow", "upload": "yellow", "delete": "red"}
    for action in plan:
        color = style.get(action.verb, "dim")
        cells = (escape(str(v)) for v in (action.resource, action.api, action.reason))
        table.add_row(f"[{color}]{escape(action.verb)}[/]", *cells)
    return table


def up(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
) -> None:
    """Provision everything the target needs. Safe to run again: it converges."""
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    plan = target.plan_up()
    if not plan:
        console.success(
            f"{target.name} target {target.names.stack!r} is up to date; nothing to do."
        )
        return
    console.err.print(plan_table(plan, f"Plan for {target.name} stack {target.names.stack}"))
    if dry_run:
        console.info(f"{len(plan)} change(s) planned; --dry-run, so nothing was changed.")
        return
    target.apply(plan)
    console.success(f"{len(plan)} change(s) applied.")


def down(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    keep_data: Annotated[
        bool, typer.Option("--keep-data", help="Keep buckets/folders holding data.")
    ] = False,
) -> None:
    """Remove everything `up` made (data too, unless --keep-data). Safe to repeat."""
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    plan = target.plan_down(keep_data)
    if not plan:
        console.success(
            f"Nothing of {target.name} stack {target.names.stack!r} exists; nothing to do."
        )
        return
    console.err.print(plan_table(plan, "This will delete"))
    if not yes and not typer.confirm(f"Delete these {len(plan)} resource(s)?", err=True):
        console.info("Nothing was deleted.")
        raise typer.Exit(1)
    target.apply(plan)
    console.success(f"{len(plan)} resource(s) deleted.")


def _run_row(run: dict[str, Any]) -> list[str]:
    quarantined = run.get("quarantined_total")
    return [
        str(run.get("run_id", "")),
        str(run.get("started_at", ""))[:19].replace("T", " "),
        f"{run['seconds']:.1f}s" if isinstance(run.get("seconds"), int | float) else "",
        f"{run['records_read']:,}" if isinstance(run.get("records_read"), int) else "",
        f"{run['transformed']:,}" if isinstance(run.get("transformed"), int) else "",
        f"{quarantined:,}" if isinstance(quarantined, int) else "",
        str(run.get("state", "")) + (f": {run['error']}" if run.get("error") else ""),
    ]


def runs_table(runs: list[dict[str, Any]], title: str = "Transform runs") -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in ("run", "started (UTC)", "took", "read", "transformed", "quarantined", "outcome"):
        table.add_column(column, justify="right" if column in {"took", "read"} else "left")
    for run in runs:
        table.add_row(*(escape(cell) for cell in _run_row(run)))
    return table


def status(
    ctx: typer.Context,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table or json.")
    ] = OutputFormat.table,
) -> None:
    """Every resource and its state, the last runs, counts and freshness."""
    from orderpipe.targets import get_target

    report = get_target(settings_of(ctx)).status()
    if fmt is OutputFormat.json:
        console.out.file.write(json.dumps(report, default=plain, indent=1) + "\n")
        return
    rows = [
        [r["kind"], r["name"], r["state"], r.get("detail", "")] for r in report.get("resources", [])
    ]
    title = f"orderpipe status — {report.get('target')}"
    console.out.print(text_table(title, ("kind", "name", "state", "detail"), rows))
    if report.get("message"):
        console.info(report["message"])
    if report.get("runs"):
        console.out.print(runs_table(report["runs"], "Last transform runs"))
    if report.get("freshness"):
        from orderpipe.render import key_values

        console.out.print(key_values("Counts and freshness", report["freshness"]))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Infrastructure")(up)
    app.command(rich_help_panel="Infrastructure")(down)
    app.command(rich_help_panel="Infrastructure")(status)
