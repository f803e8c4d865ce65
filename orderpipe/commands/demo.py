"""demo: the whole pipeline end to end, stage by stage, with the sample queries at the end."""

from __future__ import annotations

import threading
import time
from typing import Annotated

import typer

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.render import OutputFormat, bar_chart, byte_size, print_result
from orderpipe.settings import Settings

CHARTED = {"regional-revenue", "peak-hours"}


def demo(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option(min=1, help="How many synthetic order lines.")] = 20_000,
    seed: Annotated[int | None, typer.Option(help="Same seed, same orders.")] = 42,
) -> None:
    """Run the whole pipeline end to end: up → generate → ship → crawl → transform → query."""
    from orderpipe import generator, queries
    from orderpipe.stages import describe_crawl, run_transform, ship_logs
    from orderpipe.targets import get_target
    from orderpipe.targets.base import JobParams

    settings = settings_of(ctx)
    target = get_target(settings)
    started = time.perf_counter()
    console.info(
        f"orderpipe demo on the {target.name} target, stack {target.names.stack!r}", style="bold"
    )

    with console.stage("up") as stage:
        plan = target.plan_up()
        target.apply(plan)
        stage["detail"] = f"{len(plan)} change(s)" if plan else "already up"
    # The JVM takes seconds to start: let it boot while orders are generated and shipped.
    threading.Thread(target=target.warm_up, name="warm-up", daemon=True).start()
    with console.stage(f"generate {orders:,} orders") as stage:
        stats = generator.write_orders(generator.synthetic_orders(orders, seed), target.log_dir)
        stage["detail"] = f"{stats.orders:,} lines, {byte_size(stats.bytes)}, {stats.files} file(s)"
    with console.stage("ship"):
        ship_logs(target)
    with console.stage("crawl") as stage:
        stage["detail"] = describe_crawl(target.crawl())
    run_transform(target, JobParams(settings.fx_rate, settings.high_value_threshold))
    for named in queries.load().values():
        sql, values = queries.resolve(named, {})
        result = target.query(sql, values)
        console.out.print()
        if named.name in CHARTED:
            bar_chart(result, f"{named.name} — {named.help}")
        else:
            print_result(result, OutputFormat.table, f"{named.name} — {named.help}")
    console.out.print()
    console.success(f"demo finished in {time.perf_counter() - started:.1f}s")
    home = f" --home {settings.home}" if settings.home != Settings().home else ""
    console.info(
        "Try next:\n"
        f"  orderpipe{home} query list\n"
        f"  orderpipe{home} query top-orders --param limit=5 --format json\n"
        f'  orderpipe{home} query sql "SELECT country, count(*) AS n FROM transformed_orders '
        'GROUP BY 1 ORDER BY 2 DESC"\n'
        f"  orderpipe{home} generate --replay sample   # 3,000 real Online Retail lines\n"
        f"  orderpipe{home} transform run && orderpipe{home} status\n"
        f"  orderpipe{home} down"
    )


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Pipeline")(demo)
