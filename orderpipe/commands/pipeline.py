"""crawl and transform: discover raw data, run the ETL job, show its runs."""

from __future__ import annotations

from typing import Annotated

import typer

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.render import key_values
from orderpipe.settings import EngineName

transform_app = typer.Typer(help="Run the ETL job and inspect its runs.", no_args_is_help=True)


def crawl(
    ctx: typer.Context,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the crawler to finish.")
    ] = True,
) -> None:
    """Run the crawler over the raw bucket and register what it finds."""
    from orderpipe.stages import describe_crawl
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    with console.stage("crawl") as stage:
        result = target.crawl(wait=wait)
        stage["detail"] = describe_crawl(result)


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
    from orderpipe import runs_view
    from orderpipe.stages import run_transform
    from orderpipe.targets import get_target
    from orderpipe.targets.base import JobParams

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
    run = run_transform(target, params, wait)
    rows = runs_view.detail_rows(run)
    from orderpipe.shipper import dead_letters

    # Lines the agent set aside never reach raw; the accounting still names them.
    held, folder = dead_letters(target.state.agent)
    if held:
        rows.append(("set aside by the agent (all runs)", held))
    console.out.print(key_values(f"Transform run {run.run_id}", rows))
    if held:
        console.info(f"{held:,} line(s) over Firehose's record limit are kept in {folder}.")


@transform_app.command("status")
def transform_status(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many runs.")] = 10,
) -> None:
    """Recent job runs: start, duration, rows in/out/quarantined, outcome."""
    from orderpipe import runs_view
    from orderpipe.targets import get_target

    runs = get_target(settings_of(ctx)).transform_runs(limit)
    if not runs:
        console.info("No transform runs yet: run `orderpipe transform run`.")
        return
    console.out.print(runs_view.runs_table(runs))


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Pipeline")(crawl)
    app.add_typer(transform_app, name="transform", rich_help_panel="Pipeline")
