"""up, down, status: provision, remove and inspect what the pipeline runs on."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.render import (
    ReportFormat,
    key_values,
    plain,
    plan_table,
    resources_table,
    text_table,
)


def _on_off(name: str, help: str) -> Any:
    return typer.Option(f"--{name}/--no-{name}", help=help, rich_help_panel="aws options")


def _aws(help: str, **kwargs: Any) -> Any:
    return typer.Option(help=help, rich_help_panel="aws options", **kwargs)


def up(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    alarm_email: Annotated[
        str | None, _aws("E-mail alarms: Firehose delivery failures, failed Glue runs.")
    ] = None,
    glue_version: Annotated[str | None, _aws("Glue 6.0 (default) or 5.1.")] = None,
    flex: Annotated[
        bool | None, _on_off("flex", "Glue Flex execution (cheaper, may wait).")
    ] = None,
    glue_workers: Annotated[
        int | None, _aws("Most G.1X workers auto scaling may use (default 4).")
    ] = None,
    job_timeout_minutes: Annotated[
        int | None, _aws("Stop a Glue run after this many minutes (default 60).")
    ] = None,
    kms_key: Annotated[
        str | None, _aws("SSE-KMS key ARN for the buckets (default SSE-S3).")
    ] = None,
    versioning: Annotated[bool | None, _on_off("versioning", "Bucket versioning.")] = None,
    spot: Annotated[bool | None, _on_off("spot", "Run the EC2 generator on Spot.")] = None,
    buffer_seconds: Annotated[
        int | None, _aws("Firehose buffering interval, 0–900 s (default 60).")
    ] = None,
    buffer_mb: Annotated[int | None, _aws("Firehose buffer size, 1–128 MiB (default 5).")] = None,
    scan_cutoff_gb: Annotated[
        int | None, _aws("Athena cancels queries scanning more GB (default 10).")
    ] = None,
    log_retention_days: Annotated[
        int | None, _aws("Keep Firehose error logs this many days (default 14).")
    ] = None,
) -> None:
    """Provision everything the target needs. Safe to run again: it converges.

    On aws every option is also ORDERPIPE_AWS_<NAME> and a key of [aws] in orderpipe.toml."""
    from orderpipe.targets import get_target

    options = {
        "alarm_email": alarm_email, "glue_version": glue_version, "flex": flex,
        "glue_workers": glue_workers, "job_timeout_minutes": job_timeout_minutes,
        "kms_key": kms_key, "versioning": versioning, "spot": spot,
        "buffer_seconds": buffer_seconds, "buffer_mb": buffer_mb, "scan_cutoff_gb": scan_cutoff_gb,
        "log_retention_days": log_retention_days,
    }  # fmt: skip
    target = get_target(settings_of(ctx), **options)
    plan = target.plan_up()
    if dry_run and target.option_rows():
        console.err.print(options_table(target.option_rows()))
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


def options_table(rows: list[tuple[str, str, str, str]]) -> Table:
    return text_table("Options", ("option", "value", "from", "why"), rows)


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
    doomed = [a for a in plan if a.verb != "keep"]
    kept = [a.resource for a in plan if a.verb == "keep"]
    left = f"Left {len(kept)} in place: {', '.join(kept)}." if kept else ""
    if not doomed:
        console.success(
            f"Nothing of {target.name} stack {target.names.stack!r} exists; nothing to do."
        )
        if left:
            console.info(left)
        return
    console.err.print(plan_table(plan, "This will delete"))
    if not yes and not typer.confirm(f"Delete these {len(doomed)} resource(s)?", err=True):
        console.info("Nothing was deleted.")
        raise typer.Exit(1)
    target.apply(plan)
    console.success(f"{len(doomed)} resource(s) deleted.")
    if left:
        console.info(left)


def status(
    ctx: typer.Context,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="table or json.")
    ] = ReportFormat.table,
) -> None:
    """Every resource and its state, the last runs, counts and freshness."""
    from orderpipe.targets import get_target

    report = get_target(settings_of(ctx)).status()
    if fmt is ReportFormat.json:
        console.out.file.write(json.dumps(report.to_json(), default=plain, indent=1) + "\n")
        return
    console.out.print(resources_table(f"orderpipe status — {report.target}", report.resources))
    if report.message:
        console.info(report.message)
    if report.runs:
        from orderpipe.runs_view import runs_table

        console.out.print(runs_table(report.runs, "Last transform runs"))
    if report.freshness:
        console.out.print(key_values("Counts and freshness", report.freshness))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Infrastructure")(up)
    app.command(rich_help_panel="Infrastructure")(down)
    app.command(rich_help_panel="Infrastructure")(status)
