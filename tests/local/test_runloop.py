"""`orderpipe run` on the local target for real: generator, agent, crawler and job in a loop,
a reader querying meanwhile, and a clean stop on SIGTERM."""

from __future__ import annotations

import gzip
import os
import signal
import threading
from pathlib import Path

from helpers import ENV, cli, orderpipe_until

from orderpipe.errors import JobFailed
from orderpipe.job.summary import RunSummary
from orderpipe.runloop import Cycle, RunFigures, RunLoop
from orderpipe.settings import Settings
from orderpipe.targets.base import JobParams
from orderpipe.targets.local import LocalTarget

COUNTS = (
    "SELECT (SELECT count(*) FROM transformed_orders) + (SELECT count(*) FROM quarantined_orders),"
    " (SELECT count(DISTINCT recordid) FROM transformed_orders)"
    " + (SELECT count(DISTINCT recordid) FROM quarantined_orders)"
)


def logged_lines(home: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (home / "logs").glob("*.ndjson"))


def rows_and_distinct(target: LocalTarget) -> tuple[int, int]:
    rows, distinct = target.query(COUNTS).rows[0]
    return int(rows or 0), int(distinct or 0)


def test_run_makes_every_order_queryable_once_while_a_reader_watches(home: Path) -> None:
    target = LocalTarget(Settings(home=home))
    seen: list[tuple[int, int]] = []
    failed_after_tables: list[str] = []
    done = threading.Event()

    def reader() -> None:  # a user querying while `run` works
        while not done.is_set():
            try:
                seen.append(rows_and_distinct(target))
            except Exception as exc:  # before the first run there are no tables yet
                if seen:
                    failed_after_tables.append(str(exc))
            done.wait(0.2)

    watcher = threading.Thread(target=reader, daemon=True)
    watcher.start()
    try:
        result = cli(home, "run", "--rate", "150", "--every", "2s", "--for", "8s", "--seed", "3")
    finally:
        done.set()
        watcher.join()

    assert "cycle 1" in result.output and "retrying" not in result.output, result.output
    written = logged_lines(home)
    assert written >= 8 * 150 * 0.8  # the generator kept its rate
    # Every line written is in exactly one table (synthetic lines are all distinct records).
    assert rows_and_distinct(target) == (written, written)
    # The reader never saw a record twice nor a count going down.
    assert seen and all(rows == distinct for rows, distinct in seen), seen
    assert [rows for rows, _ in seen] == sorted(rows for rows, _ in seen), seen
    assert failed_after_tables == []

    status = cli(home, "status", "--format", "json").json()
    assert status["lag_seconds"] == 0
    assert status["freshness"]["raw_objects_waiting"] == 0
    assert status["freshness"]["newest_queryable_at"]
    assert target.lag().lag_seconds == 0  # what `run`, `status` and `report` show


def test_sigterm_stops_cleanly_and_loses_nothing(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPIPE_")}
    ran = orderpipe_until("--home", home, "run", "--rate", "300", "--every", "1h",
                          ready=lambda: logged_lines(home) >= 600, signal=signal.SIGTERM,
                          env={**env, **ENV})  # fmt: skip
    assert "stopped" in ran.stderr

    written = logged_lines(home)
    assert written >= 600
    # The agent delivered everything before it stopped: nothing is left for `ship`.
    assert "shipped 0 lines" in cli(home, "ship").output
    cli(home, "transform", "run")
    target = LocalTarget(Settings(home=home))
    assert rows_and_distinct(target) == (written, written)


def test_schedule_on_the_local_target_points_to_run(home: Path) -> None:
    result = cli(home, "schedule", "set", "--every", "10m", code=2)
    assert "orderpipe run" in result.stderr


class FlakyJob(LocalTarget):
    """The local target whose job fails on its first run and then reports empty runs (the
    loop's handling is under test here, not the job)."""

    runs = 0

    def run_transform(self, params: JobParams, wait: bool = True) -> RunSummary:
        self.runs += 1
        if self.runs == 1:
            raise JobFailed("the transform job failed: the disk is on fire")
        return RunSummary(f"run-{self.runs}", "SUCCEEDED", transformed=0, quarantined_total=0)


def raw_line_count(home: Path) -> int:
    objects = (home / "buckets").rglob("*.gz")
    return sum(gzip.decompress(p.read_bytes()).count(b"\n") for p in objects)


def test_a_failed_cycle_is_reported_and_retried_and_stop_flushes_the_agent(home: Path) -> None:
    target = FlakyJob(Settings(home=home))
    cycles: list[Cycle] = []
    stop = threading.Event()

    def on_cycle(cycle: Cycle, figures: RunFigures) -> None:
        cycles.append(cycle)
        if len(cycles) >= 3 and figures.written >= 400:  # stop on progress, not on a timer
            stop.set()  # as Ctrl-C would

    loop = RunLoop(target, JobParams(), every=0.5, rate=200, seed=1, poll_interval=0.1,
                   on_cycle=on_cycle)  # fmt: skip
    backstop = threading.Timer(300, stop.set)  # only a broken loop gets here
    backstop.start()
    figures = loop.run(stop)
    backstop.cancel()

    assert cycles[0].failed and "disk is on fire" in cycles[0].error
    assert cycles[1].run is not None and not cycles[1].failed  # retried by the next cycle
    assert figures.failures == 1 and figures.cycles == len(cycles) >= 3
    # Stopped: no last cycle, but the agent delivered every line written before it stopped.
    assert figures.written == logged_lines(home) == figures.shipped == raw_line_count(home)
    assert figures.written >= 400
