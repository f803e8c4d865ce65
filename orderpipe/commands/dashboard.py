"""dashboard up|down|status: the target's hosted dashboards (QuickSight and CloudWatch on AWS)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.render import ReportFormat, plan_table, resources_table

if TYPE_CHECKING:
    from orderpipe.targets.base import HostedDashboards, Target

dashboard_app = typer.Typer(
    help="QuickSight and CloudWatch dashboards of the aws stack (locally: `orderpipe report`).",
    no_args_is_help=True,
)


def _dashboards(ctx: typer.Context) -> tuple[Target, HostedDashboards]:
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    return target, target.dashboards()


def _notes(notes: Iterable[str]) -> None:
    for note in notes:
        console.warn(note)


@dashboard_app.command("up")
def dashboard_up(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
) -> None:
    """Make or update the dashboards. Safe to run again: it converges."""
    target, dashboards = _dashboards(ctx)
    plan, notes = dashboards.plan_up()
    if plan:
        console.err.print(plan_table(plan, f"Dashboards of stack {target.names.stack!r}"))
        if not dry_run:
            target.apply(plan)
    _notes(notes)
    if not plan:
        console.success("The dashboards are up to date; nothing to do.")
    elif dry_run:
        console.info(f"{len(plan)} change(s) planned; --dry-run, so nothing was changed.")
    else:
        console.success(f"{len(plan)} change(s) applied.")


@dashboard_app.command("down")
def dashboard_down(ctx: typer.Context) -> None:
    """Remove the dashboards (never the data). Safe to repeat."""
    target, dashboards = _dashboards(ctx)
    plan = dashboards.plan_down()
    if not plan:
        console.success("No dashboards of this stack exist; nothing to do.")
        return
    console.err.print(plan_table(plan, "Removing"))
    target.apply(plan)
    console.success(f"{len(plan)} dashboard resource(s) deleted.")


@dashboard_app.command("status")
def dashboard_status(
    ctx: typer.Context,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table or json.")] = (
        ReportFormat.table
    ),
) -> None:
    """Each dashboard resource and its state: ok, missing or drift."""
    _, dashboards = _dashboards(ctx)
    report = dashboards.status()
    if fmt is ReportFormat.json:
        console.out.file.write(json.dumps(report.to_json()) + "\n")
        return
    console.out.print(resources_table(f"Dashboards of stack {report.stack!r}", report.resources))
    _notes(report.notes)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboard_app, name="dashboard", rich_help_panel="Analysis")
