"""generate and ship: produce orders into the log folder, and deliver them to Firehose."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orderpipe import console
from orderpipe.commands import finite_rate, settings_of
from orderpipe.render import byte_size, key_values


def _replay_file(value: Path | None) -> Path | None:
    """`--replay sample` is the packaged sample; any other value must be a readable file."""
    if value is None:
        return None
    if str(value) == "sample":
        from orderpipe.paths import SAMPLE_CSV

        return SAMPLE_CSV
    if not value.is_file():
        raise typer.BadParameter(f"{value} is not a file (or `sample` for the bundled sample).")
    return value


def generate(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(min=1, help="How many synthetic order lines.")] = 10_000,
    rate: Annotated[
        float | None,
        typer.Option(callback=finite_rate, help="Order lines per second (default: unlimited)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Same seed, same orders (dated relative to now).")
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            callback=_replay_file,
            help="Stream a real CSV/NDJSON order file; `sample`: 3,000 lines of the public "
            "Online Retail data set that ship with orderpipe.",
        ),
    ] = None,
    date_format: Annotated[
        list[str] | None,
        typer.Option(
            help="strptime format of InvoiceDate in --replay (repeatable; first match wins)."
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of --replay (default: detected).")
    ] = None,
    no_ship: Annotated[
        bool, typer.Option("--no-ship", help="Only write the log files, for `ship` later.")
    ] = False,
    ec2: Annotated[
        bool | None,
        typer.Option(
            "--ec2/--here", help="aws target: run on the stack's EC2 instance (default) or here."
        ),
    ] = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="aws target: terminate the stack's EC2 generator.")
    ] = False,
) -> None:
    """Produce orders (synthetic, or a replayed real file) and ship them to the target."""
    from orderpipe import generator
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    if stop:
        stopped = target.stop_generator()
        console.success(
            f"terminated {', '.join(stopped)}" if stopped else "no generator is running"
        )
        return
    if replay is None and ec2 is not False:
        remote = target.generate_remotely(count=count, rate=rate, seed=seed, requested=ec2)
        if remote is not None:
            console.out.print(key_values("Generator instance", remote.to_json()))
            return
    if replay is not None:
        from orderpipe import replay as replaying

        plan = replaying.plan_replay(replay, date_formats=date_format or (), encoding=encoding)
        if plan.ignored_columns:
            console.warn(
                f"{replay.name}: ignoring column(s) {', '.join(plan.ignored_columns)} "
                "(an order has only the eight fields InvoiceNo … Country)."
            )
        lines = replaying.replay_lines(plan)
        what = f"replaying {replay.name}"
    else:
        lines = generator.synthetic_orders(count, seed)
        what = f"generating {count:,} orders"
    target.ensure_up()
    with console.progress_bar(what, total=plan.rows if replay else count) as advance:
        stats = generator.write_orders(lines, target.log_dir, rate=rate, on_progress=advance)
    console.success(
        f"wrote {stats.orders:,} orders ({byte_size(stats.bytes)} in {stats.files} file(s)) "
        f"to {target.log_dir} in {stats.seconds:.1f}s"
        + (f"; order dates {stats.first_date} → {stats.last_date}" if stats.first_date else "")
    )
    if not no_ship:
        from orderpipe.stages import ship_logs

        ship_logs(target)


def ship(
    ctx: typer.Context,
    log_dir: Annotated[
        Path | None, typer.Option(file_okay=False, help="Folder to ship (default <home>/logs).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep tailing until Ctrl-C.")
    ] = False,
) -> None:
    """The agent: deliver the log folder beyond its checkpoint to the target's Firehose."""
    from orderpipe.stages import ship_logs
    from orderpipe.targets import get_target

    ship_logs(get_target(settings_of(ctx)), log_dir, follow)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Pipeline")(generate)
    app.command(rich_help_panel="Pipeline")(ship)
