"""crawl and transform: discover raw data, run the ETL job, show its runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.commands.infra import runs_table
from orderpipe.render import key_values
from orderpipe.settings import EngineName
from orderpipe.stages import describe_crawl, run_transform
from orderpipe.targets.base import JobParams

transform_app = typer.Typer(help="Run the ETL job and inspect its runs.", no_args_is_help=True)


def crawl(
    ctx: typer.Context,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the crawler to finish.")
    ] = True,
) -> None:
    """Run the crawler over the raw bucket and register what it finds."""
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    with console.stage("crawl") as stage:
        result = target.crawl(wait=wait)
        stage["detail"] = describe_crawl(result)


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The run summary as labelled numbers, quarantine reasons indented under their total."""
    rows: list[tuple[str, Any]] = [
        ("raw objects read", summary.get("objects_read")),
        ("records read", summary.get("records_read")),
        ("duplicates dropped", summary.get("duplicates_dropped")),
        ("distinct records", summary.get("distinct_records")),
        ("transformed", summary.get("transformed")),
        ("quarantined", summary.get("quarantined_total")),
    ]
    for reason, n in sorted((summary.get("quarantined") or {}).items(), key=lambda kv: -kv[1]):
        if n:
            rows.append((f"  {reason}", n))
    rows += [
        ("partitions written", summary.get("partitions_written")),
        ("engine", summary.get("engine")),
        ("seconds", summary.get("seconds")),
    ]
    return rows


@transform_app.command("run")
def transform_run(
    ctx: typer.Context,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait: for the job to finish (aws), and for another run writing the lake "
            "(local). --no-wait never blocks: it returns once the job started, or refuses if "
            "the lake is busy.",
        ),
    ] = True,
    fx_rate: Annotated[
        float | None, typer.Option(min=0.000001, help="USD per unit of source currency.")
    ] = None,
    high_value_threshold: Annotated[
        float | None, typer.Option(help="Order lines above this many USD are tagged High.")
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Rebuild from all raw data, not just new objects."),
    ] = False,
    engine: Annotated[
        EngineName | None,
        typer.Option(
            case_sensitive=False,
            help="Local target: duckdb (default; setting `engine`) or spark (the Glue script "
            "on local PySpark).",
        ),
    ] = None,
) -> None:
    """Run the ETL job (crawling first if raw changed) and print what it did."""
    from orderpipe.targets import get_target

    settings = settings_of(ctx)
    target = get_target(settings)
    params = JobParams(
        fx_rate=fx_rate if fx_rate is not None else settings.fx_rate,
        high_value_threshold=(
            high_value_threshold
            if high_value_threshold is not None
            else settings.high_value_threshold
        ),
        full_refresh=full_refresh,
        engine=engine.value if engine is not None else None,
    )
    summary = run_transform(target, params, wait)
    title = f"Transform run {summary.get('run_id', '')}"
    if summary.get("transformed") is not None:
        from orderpipe.shipper import dead_letters

        # Lines the agent set aside never reach raw; the accounting still names them.
        held, folder = dead_letters(target.state.agent)
        rows = summary_rows(summary)
        if held:
            rows.append(("set aside by the agent (all runs)", held))
        console.out.print(key_values(title, rows))
        if held:
            console.info(f"{held:,} line(s) over Firehose's record limit are kept in {folder}.")
    else:  # still running (--no-wait), or the job wrote no summary
        state = [("state", summary.get("state") or "unknown"), ("seconds", summary.get("seconds"))]
        console.out.print(key_values(title, state))


@transform_app.command("status")
def transform_status(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many runs.")] = 10,
) -> None:
    """Recent job runs: start, duration, rows in/out/quarantined, outcome."""
    from orderpipe.targets import get_target

    runs = get_target(settings_of(ctx)).transform_runs(limit)
    if not runs:
        console.info("No transform runs yet: run `orderpipe transform run`.")
        return
    console.out.print(runs_table(runs))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Pipeline")(crawl)
    app.add_typer(transform_app, name="transform", rich_help_panel="Pipeline")
