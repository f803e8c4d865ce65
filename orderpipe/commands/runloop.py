"""run and schedule: the pipeline running by itself, here (`run`) or by the target's scheduler."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from orderpipe import console
from orderpipe.commands import finite_rate, settings_of
from orderpipe.render import key_values, plan_table, text_table

if TYPE_CHECKING:  # the loop itself loads when a command runs, not for `orderpipe --help`
    from orderpipe.results import ScheduleInfo
    from orderpipe.runloop import Cycle, RunFigures

schedule_app = typer.Typer(
    help="aws target: run the ETL job on a schedule (a Glue workflow).", no_args_is_help=True
)


def describe_cycle(cycle: Cycle) -> str:
    """One line for one cycle."""
    head = f"cycle {cycle.number} ({cycle.seconds:.1f}s): shipped {cycle.shipped:,}"
    if cycle.failed:
        return f"{head}; [red]failed[/]: {escape(cycle.error)} — retrying next cycle"
    crawled = ", crawled" if cycle.crawled else ""
    from orderpipe.runs_view import describe

    did = cycle.note if cycle.run is None else describe(cycle.run)
    return f"{head}{crawled}; {escape(did)}"


def _lag(figures: RunFigures, now: float) -> str:
    seconds = figures.current_lag(now)
    return "lag ?" if seconds is None else f"lag {seconds:,.1f}s"


def _live_text(figures: RunFigures, title: str) -> Any:
    from rich.text import Text

    now = time.time()
    text = Text.from_markup(
        f"[bold]{escape(title)}[/] · "
        f"{time.strftime('%H:%M:%S', time.gmtime(now - figures.started))}\n"
        f"written {figures.written:,} · shipped {figures.shipped:,} · "
        f"queryable +{figures.transformed:,} · quarantined +{figures.quarantined:,} · "
        f"{_lag(figures, now)}\n"
    )
    if figures.last is not None:
        text.append_text(Text.from_markup(describe_cycle(figures.last)))
    text.append(
        f"\n{figures.stopping}" if figures.stopping
        else f"\nnext cycle in {max(0.0, figures.next_cycle - now):,.0f}s · Ctrl-C stops",
        style="dim",
    )  # fmt: skip
    return text


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM asks for a clean stop; a second Ctrl-C interrupts."""

    def handler(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(
    ctx: typer.Context,
    every: Annotated[
        str, typer.Option(help="Time between cycles (crawl when raw changed + transform).")
    ] = "60s",
    rate: Annotated[
        float | None,
        typer.Option(
            callback=finite_rate, help="Also generate synthetic orders at this many lines/s."
        ),
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="Stop after this long (e.g. 2m), with a last cycle."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the generated orders.")] = None,
) -> None:
    """Keep the pipeline running: ship as logs grow, make new orders queryable every cycle."""
    from orderpipe.runloop import RunLoop, parse_duration
    from orderpipe.targets import get_target
    from orderpipe.targets.base import JobParams

    every_s = parse_duration(every, "--every")
    duration = parse_duration(for_, "--for") if for_ is not None else None
    settings = settings_of(ctx)
    target = get_target(settings)
    params = JobParams(settings.fx_rate, settings.high_value_threshold)
    live = console.err.is_terminal
    title = f"orderpipe run · {target.name} · every {every}" + (
        f" · {rate:,g} orders/s" if rate else " · following the logs"
    )

    def on_cycle(cycle: Cycle, figures: RunFigures) -> None:
        if not live or cycle.failed:  # failures stay on screen above the live lines
            # describe_cycle is markup whose values are already escaped
            line = f"{describe_cycle(cycle)} · {_lag(figures, time.time())}"
            console.err.print(line, highlight=False)

    loop = RunLoop(
        target, params, every=every_s, rate=rate, duration=duration, seed=seed, on_cycle=on_cycle
    )
    if not live:
        console.info(f"{title}; one line per cycle, Ctrl-C stops")
    stop = threading.Event()
    with _stop_on_signals(stop), _live(live, loop.figures, title):
        figures = loop.run(stop)
    _print_summary(figures, stopped=stop.is_set())
    last = figures.last
    if not stop.is_set() and last is not None and last.failed:
        from orderpipe.errors import OrderpipeError

        raise OrderpipeError(
            f"the last cycle failed ({last.error}); the orders are safe in raw: run "
            "`orderpipe transform run` to make them queryable."
        )


@contextmanager
def _live(enabled: bool, figures: RunFigures, title: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    from rich.live import Live

    with Live(
        get_renderable=lambda: _live_text(figures, title), console=console.err,
        refresh_per_second=2, transient=True,
    ):  # fmt: skip
        yield


def _print_summary(figures: RunFigures, stopped: bool) -> None:
    rows = [
        ("ran for", f"{time.time() - figures.started:,.0f}s"),
        ("cycles", figures.cycles),
        ("failed cycles", figures.failures),
        ("orders written", figures.written),
        ("lines shipped", figures.shipped),
        ("transformed (new rows)", figures.transformed),
        ("quarantined (new rows)", figures.quarantined),
        ("lag_seconds", figures.lag.lag_seconds if figures.lag else None),
    ]
    console.out.print(key_values("orderpipe run", rows))
    if stopped:
        console.success(
            "stopped: the agent delivered what it had read and saved its checkpoint; "
            "`orderpipe transform run` makes the rest queryable."
        )


# schedule -------------------------------------------------------------------------------------
@schedule_app.command("set")
def schedule_set(
    ctx: typer.Context,
    every: Annotated[str, typer.Option(help="How often the job runs: 5m … 1d.")],
) -> None:
    """Run the ETL job every DURATION (and the crawler once a day) by a Glue workflow."""
    from orderpipe.runloop import parse_duration
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    plan = target.set_schedule(parse_duration(every, "--every"))
    if plan:
        console.err.print(plan_table(plan, "Schedule changes"))
    else:
        console.success(f"the schedule already runs the job every {every}; nothing to do.")
    _print_schedule(target.show_schedule())


@schedule_app.command("clear")
def schedule_clear(ctx: typer.Context) -> None:
    """Remove the schedule's triggers: nothing runs by itself any more."""
    from orderpipe.targets import get_target

    plan = get_target(settings_of(ctx)).clear_schedule()
    console.success(
        f"removed {len(plan)} trigger(s)." if plan else "no schedule is set; nothing to do."
    )


@schedule_app.command("show")
def schedule_show(ctx: typer.Context) -> None:
    """The schedule, its next runs, the last workflow runs and what each run costs."""
    from orderpipe.targets import get_target

    _print_schedule(get_target(settings_of(ctx)).show_schedule())


def _print_schedule(shown: ScheduleInfo) -> None:
    if not shown.triggers:
        console.info("No schedule is set: `orderpipe --target aws schedule set --every 1h`.")
        return
    columns = ("trigger", "schedule", "state", "starts", "next run")
    triggers = [(t.name, t.schedule, t.state, t.starts, t.next_run) for t in shown.triggers]
    console.out.print(text_table(f"Schedule — workflow {shown.workflow}", columns, triggers))
    runs = [(r.run_id, r.started, r.status) for r in shown.workflow_runs]
    if runs:
        console.out.print(text_table("Last workflow runs", ("run", "started", "status"), runs))
    else:
        console.info("No workflow runs yet.")
    cost = shown.cost
    if cost:
        console.out.print(
            key_values(
                "Cost at list prices (us-east-1; Glue $0.44/DPU-hour, 1-minute minimum)",
                [
                    ("one job run, USD", cost.job_run_usd),
                    ("one crawl, USD (10-minute minimum)", cost.crawl_usd),
                    ("job runs per day", cost.runs_per_day),
                    ("per month (30 days), USD", cost.usd_per_month),
                ],
            )
        )


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Pipeline")(run)
    app.add_typer(schedule_app, name="schedule", rich_help_panel="Pipeline")
